"""A worker's id: chosen once per home and kept there, so the master finds the same worker
(and its accounts, and its delta seqs) after every restart."""
from __future__ import annotations

import re
import socket
import uuid
from pathlib import Path

MAX_LEN = 64  # the accounts table's worker_id


def worker_id_for(folder: Path, wanted: str | None = None) -> str:
    """`wanted` (saved for the next start), else the saved id, else a new one
    ("worker-<host>-<6 hex>")."""
    path = folder / "worker_id"
    if wanted:
        if not 0 < len(wanted) <= MAX_LEN or not re.fullmatch(r"[\w.:@-]+", wanted):
            raise ValueError(f"a worker id has 1 to {MAX_LEN} letters, digits or . _ - : @ (got {wanted!r})")
        worker_id = wanted
    elif path.exists():
        return path.read_text(encoding="utf-8").strip()
    else:
        host = re.sub(r"[^\w.-]", "-", socket.gethostname())[:40] or "host"
        worker_id = f"worker-{host}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(worker_id, encoding="utf-8")
    return worker_id
