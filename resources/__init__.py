"""Files the console ships with: icons, style sheets and translations.

Read through importlib.resources (as OnionShare does) so that an installed wheel or a frozen
build finds them as well as a source checkout does. Qt wants file-system paths for icons and
translations, so `resource_path` materialises a file when the package lives in a zip.
"""
from __future__ import annotations

import atexit
from contextlib import ExitStack
from importlib.resources import as_file, files
from pathlib import Path

_extracted = ExitStack()
atexit.register(_extracted.close)


def resource_path(*parts: str) -> Path:
    """A real file-system path of a bundled file, e.g. resource_path("icons", "app.svg")."""
    return _extracted.enter_context(as_file(files(__name__).joinpath(*parts)))


def read_text(*parts: str) -> str:
    return files(__name__).joinpath(*parts).read_text(encoding="utf-8")


def exists(*parts: str) -> bool:
    return files(__name__).joinpath(*parts).is_file()
