"""Each account's avatar on its platform, kept as a file in the data folder.

The avatar URL comes from the platform's page at login. It is fetched there and then, by
the engine, through the account's own browser context (its cookies, proxy and fingerprint:
platform image servers may refuse other clients, and a fetch from this machine's own address
would show the platform a second client), and only after the login's identity was accepted
is it saved as <data dir>/avatars/<account id> (deleted with the account). The console shows
that file: it never fetches anything itself, and an account without one gets a placeholder.

Only an image is kept (its first bytes say PNG, JPEG, GIF or WebP, or it is an SVG served
as one) and only up to MAX_AVATAR_BYTES: the file is platform content shown by the console.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext

log = logging.getLogger(__name__)

AVATAR_DIR = "avatars"
MAX_AVATAR_BYTES = 2 * 1024 * 1024
FETCH_TIMEOUT_MS = 15_000
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


def avatar_file(data_dir: Path, account_id: str) -> Path:
    """Where the account's avatar is kept (it may not exist)."""
    return Path(data_dir) / AVATAR_DIR / account_id


def is_image(data: bytes, content_type: str = "") -> bool:
    if content_type.split(";")[0].strip().lower() == "image/svg+xml":
        return b"<svg" in data[:1024]
    return data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


async def fetch_avatar(context: "BrowserContext", url: str | None) -> bytes | None:
    """The image at `url`, loaded by a page of its own in the account's context; None (and
    a log line) when there is none or it is not an image: a login never fails for it."""
    if not url or not url.startswith(("https://", "http://")):
        return None
    page = await context.new_page()
    try:
        response = await page.goto(url, timeout=FETCH_TIMEOUT_MS)
        data = await response.body() if response is not None and response.ok else None
        content_type = response.headers.get("content-type", "") if response is not None else ""
    except Exception as exc:  # a dead image server, a timeout: the avatar waits for the next login
        log.info("the avatar %s could not be fetched: %s", url, exc)
        return None
    finally:
        with contextlib.suppress(Exception):
            await page.close()
    if data is None or len(data) > MAX_AVATAR_BYTES or not is_image(data, content_type):
        log.info("the avatar %s is not an image of at most %d bytes; not kept", url, MAX_AVATAR_BYTES)
        return None
    return data


def save_avatar(data_dir: Path, account_id: str, data: bytes) -> None:
    """Replace the account's avatar file in one step (a reader never sees half a file)."""
    path = avatar_file(data_dir, account_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)


def read_avatar(data_dir: Path, account_id: str) -> bytes | None:
    """The account's kept avatar, or None."""
    try:
        data = avatar_file(data_dir, account_id).read_bytes()
    except OSError:
        return None
    return data if len(data) <= MAX_AVATAR_BYTES else None


def to_data_url(data: bytes) -> str:
    """The avatar as a data URL, as a remote worker sends it with its login's success."""
    kind = "image/svg+xml" if b"<svg" in data[:1024] and not is_image(data) else "application/octet-stream"
    return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")


def from_data_url(url: str | None) -> bytes | None:
    """The image a worker sent, if it is one of at most MAX_AVATAR_BYTES (the same rule as an
    avatar fetched here); None, logged, for anything else."""
    if not url:
        return None
    header, _, encoded = url.partition(",")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        data = b""
    content_type = header.removeprefix("data:").partition(";")[0]
    if len(data) > MAX_AVATAR_BYTES or not is_image(data, content_type):
        log.info("a worker's avatar is not an image of at most %d bytes; not kept", MAX_AVATAR_BYTES)
        return None
    return data


def delete_avatar(data_dir: Path, account_id: str) -> None:
    """Remove the account's avatar (and a half-written one), if any: it is the account's
    platform content, so it goes with the account. A file that cannot be removed is logged;
    the account is gone all the same."""
    path = avatar_file(data_dir, account_id)
    for leftover in (path, path.with_name(path.name + ".part")):
        try:
            leftover.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("the avatar of the deleted account %s could not be removed: %s", account_id, exc)
