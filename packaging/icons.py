"""Render the application icon (resources/icons/app.svg) for the installers, with Qt only.

    python packaging/icons.py OUT_DIR

writes OUT_DIR/hiscrm.png (256 px, Linux and the fallback), hiscrm.ico (Windows) and
hiscrm.icns (macOS), using QSvgRenderer and Qt's own ico/icns image writers, so building
needs nothing beyond PySide6. The spec runs this in a child process (Qt wants its own process
and the offscreen platform, which works without a display).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "icons" / "app.svg"
SIZE = 256


def render(out_dir: Path) -> dict[str, Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QImageWriter, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (image plugins need it)
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"icons: cannot read {SVG}")
    image = QImage(SIZE, SIZE, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()

    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    supported = {bytes(f).decode() for f in QImageWriter.supportedImageFormats()}
    for fmt in ("png", "ico", "icns"):
        if fmt not in supported:  # ico/icns come from Qt's imageformats plugins
            print(f"icons: Qt cannot write .{fmt} here; skipped", file=sys.stderr)
            continue
        target = out_dir / f"hiscrm.{fmt}"
        if not image.save(str(target), fmt):
            raise SystemExit(f"icons: writing {target} failed")
        written[fmt] = target
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    for path in render(Path(sys.argv[1])).values():
        print(path)
