"""Read a QR code's modules back from a PNG (what a phone camera would see), to check that
the image the login page shows really encodes the URL it claims. Handles the PNGs segno
writes (greyscale, 1 bit per pixel), with every PNG row filter."""
from __future__ import annotations

import struct
import zlib


def png_pixels(data: bytes) -> list[list[int]]:
    """Rows of 0/1 pixels (1 = white) of a 1-bit greyscale PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert (depth, colour) == (1, 0), "expected a 1-bit greyscale PNG"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = (width + 7) // 8
    rows, previous = [], bytes(stride)
    for y in range(height):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        filter_type, scanline = line[0], bytearray(line[1:])
        for i in range(stride):
            left = scanline[i - 1] if i else 0
            up = previous[i]
            corner = previous[i - 1] if i else 0
            if filter_type == 1:
                scanline[i] = (scanline[i] + left) & 0xFF
            elif filter_type == 2:
                scanline[i] = (scanline[i] + up) & 0xFF
            elif filter_type == 3:
                scanline[i] = (scanline[i] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                scanline[i] = (scanline[i] + predictor) & 0xFF
        previous = bytes(scanline)
        rows.append([(scanline[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
    return rows


def qr_modules(data: bytes, *, modules: int, border: int) -> list[list[int]]:
    """The dark (1) / light (0) modules, sampled at each module's centre."""
    pixels = png_pixels(data)
    scale = len(pixels) // (modules + 2 * border)
    centre = scale // 2
    return [[1 - pixels[(border + r) * scale + centre][(border + c) * scale + centre] for c in range(modules)]
            for r in range(modules)]
