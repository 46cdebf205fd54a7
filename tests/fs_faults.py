"""Real file-system faults for tests: a read-only folder and a small disk that fills up.

Root ignores permission bits, so a read-only folder is a read-only tmpfs mount when the tests
run as root (a container), and a chmod 0500 folder otherwise; a full disk is a small tmpfs.
Mounting needs the privilege to mount: where it is missing the test is skipped, not faked.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest


def _mount_tmpfs(folder: Path, options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()})")


def _unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@contextlib.contextmanager
def read_only_folder(folder: Path) -> Iterator[Path]:
    """`folder` exists, empty, and nobody (not even this process) can create files in it."""
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    if os.geteuid() == 0:
        _mount_tmpfs(folder, "ro,size=1m")
        try:
            yield folder
        finally:
            _unmount(folder)
        return
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o500)
    try:
        yield folder
    finally:
        folder.chmod(0o700)


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """`folder` on a file system of `size` (e.g. "2m") that fills up for real (ENOSPC)."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    _mount_tmpfs(folder, f"size={size},mode=0700")
    try:
        yield folder
    finally:
        _unmount(folder)
