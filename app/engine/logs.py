"""Logging: a rotating file in the log directory and stderr."""
from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(log_dir: Path, *, verbose: bool = False) -> Path:
    """Configure the root logger once; returns the log file's path."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / "hiscrm.log"
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in list(root.handlers):
        if getattr(handler, "_hiscrm", False):
            root.removeHandler(handler)
    file_handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=5_000_000, backupCount=5, encoding="utf-8"
    )
    stderr_handler = logging.StreamHandler()
    stderr_handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    for handler in (file_handler, stderr_handler):
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._hiscrm = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    return log_file
