"""Copies of the SQLite database: on demand (`hiscrm db backup`) and once a day at start.

A copy is taken with SQLite's online backup API (sqlite3.Connection.backup): it reads a
consistent snapshot page by page while the engine keeps writing (WAL), which a file copy of a
live database does not. It is written under a temporary name and renamed when complete, so a
half-written copy (a full disk, a kill) never looks like a backup. The daily copies live in a
`backups` folder beside the database, private like the rest of the data (paths.py), and are
kept for a week.

PostgreSQL is backed up by its own tools (pg_dump); that is said, not attempted.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from ..errors import describe_os_error
from ..paths import make_private_file
from .db import Database, DatabaseError

log = logging.getLogger(__name__)

DAILY_PREFIX = "hiscrm-"
DAILY_SUFFIX = ".db"
DAY_S = 86_400
KEEP_S = 7 * DAY_S


def backup_dir_for(db_file: Path) -> Path:
    return db_file.parent / "backups"


def recovery_advice(db_file: Path) -> str:
    """How an operator gets a working database back (said wherever damage is found)."""
    return (f"To recover: stop HisCRM and replace {db_file} with the newest copy in "
            f"{backup_dir_for(db_file)} (one is taken daily), or salvage what is still readable "
            f"with `sqlite3 {db_file} .recover | sqlite3 {db_file.with_suffix('.recovered.db')}` "
            "and use that file")


async def backup(db: Database, target: Path | None = None) -> Path:
    """Copy the database into `target` (a file, or a folder for a dated name; by default a
    dated name in the backups folder beside the database)."""
    source = _sqlite_file(db)
    if target is None:
        target = backup_dir_for(source) / _dated_name(datetime.now())
    elif target.is_dir():
        target = target / _dated_name(datetime.now())
    await asyncio.to_thread(_copy, source, target)
    return target


async def take_daily_backup(db: Database, *, now: float | None = None) -> Path | None:
    """A copy when the newest daily one is older than a day; copies older than a week go.
    Returns the new copy, or None (a recent copy exists, or not SQLite)."""
    if db.sqlite_file is None:
        if db.dialect == "postgresql":
            log.info("no automatic backups of a PostgreSQL database: schedule pg_dump for it")
        return None
    now = time.time() if now is None else now
    folder = backup_dir_for(db.sqlite_file)
    copies = _daily_copies(folder)
    if copies and now - copies[-1].stat().st_mtime < DAY_S:
        return None
    target = folder / _dated_name(datetime.fromtimestamp(now))
    try:
        await asyncio.to_thread(_copy, db.sqlite_file, target)
    except DatabaseError as exc:  # the engine still starts: the data is fine, its copy is not
        log.warning("no daily backup today: %s", exc)
        return None
    for old in copies:
        if now - old.stat().st_mtime > KEEP_S:
            old.unlink(missing_ok=True)
    log.info("daily backup of the database: %s", target)
    return target


def _sqlite_file(db: Database) -> Path:
    if db.sqlite_file is None:
        if db.dialect == "postgresql":
            raise DatabaseError(
                f"{Database.redacted(db.url)} is a PostgreSQL database: back it up with "
                "pg_dump (e.g. `pg_dump -Fc -f hiscrm.dump DATABASE`)")
        raise DatabaseError("an in-memory database has nothing to back up")
    return db.sqlite_file


def _daily_copies(folder: Path) -> list[Path]:
    """Oldest first."""
    if not folder.is_dir():
        return []
    copies = [p for p in folder.iterdir()
              if p.name.startswith(DAILY_PREFIX) and p.name.endswith(DAILY_SUFFIX)]
    return sorted(copies, key=lambda p: p.stat().st_mtime)


def _dated_name(when: datetime) -> str:
    return f"{DAILY_PREFIX}{when:%Y%m%d-%H%M%S}{DAILY_SUFFIX}"


def _copy(source: Path, target: Path) -> None:
    if not source.is_file():
        raise DatabaseError(f"there is no database at {source} to back up")
    partial = target.with_name(target.name + ".partial")
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        src, dst = sqlite3.connect(source), sqlite3.connect(partial)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        make_private_file(partial)
        os.replace(partial, target)
    except (OSError, sqlite3.Error) as exc:
        partial.unlink(missing_ok=True)
        reason = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
        raise DatabaseError(f"cannot back up {source} to {target}: {reason}") from exc
