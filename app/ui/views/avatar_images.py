"""The avatars the engine kept for the accounts (app/engine/avatars.py), as images to paint.

The channel list paints every row on each scroll and each update, so a file is read once per
version (its modification time and size): a new login's avatar replaces the old one without a restart,
and painting costs a stat, not a decode. An account without a kept image gets None, and the
row its initials.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QPixmap

from app.engine.avatars import avatar_file


class AvatarImages:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._read: dict[str, tuple[tuple[int, int], QPixmap | None]] = {}  # account id -> (version, image)

    def get(self, account_id: str) -> QPixmap | None:
        path = avatar_file(self.data_dir, account_id)
        try:
            stat = path.stat()
            version = (stat.st_mtime_ns, stat.st_size)
        except OSError:  # none kept (or deleted with a logout)
            self._read.pop(account_id, None)
            return None
        known = self._read.get(account_id)
        if known is None or known[0] != version:
            image = QPixmap(str(path))
            known = (version, None if image.isNull() else image)
            self._read[account_id] = known
        return known[1]
