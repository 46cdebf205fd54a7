"""A damaged SQLite file is noticed before anything is written into it, the operator is told
how to recover, and backups (on demand, daily) are real, consistent, private copies."""
import os
import sqlite3
import stat
import sys
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from app.engine.store.backup import backup, backup_dir_for, take_daily_backup
from app.engine.store.db import Database, DatabaseDamaged, DatabaseError
from app.engine.store.models import Account, Comment

PAGE = 4096
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


async def filled(path, comments=3000):
    """A real HisCRM database with enough rows to span many pages, closed."""
    db = Database(f"sqlite:///{path}")
    await db.upgrade()

    def fill(session):
        session.add(Account(id="acc-1", platform="sandbox", display_name="Shop"))
        session.flush()
        session.add_all(Comment(account_id="acc-1", platform_comment_id=f"c{i}", platform_content_id="v1",
                                text=f"comment number {i} " * 5, created_at=T0, direction="in")
                        for i in range(comments))

    await db.write(fill)
    await db.close()
    return path


def overwrite_middle_pages(path, count=3):
    """Garbage over pages in the middle of the file; the header page stays intact, so the file
    still opens and the schema is still read."""
    size = path.stat().st_size
    assert size > 20 * PAGE
    with open(path, "r+b") as f:
        for n in range(count):
            f.seek((size // PAGE // 2 + n) * PAGE)
            f.write(os.urandom(PAGE))


async def count_comments(db):
    return await db.read(lambda s: s.scalar(select(func.count()).select_from(Comment)))


async def test_a_database_with_pages_overwritten_mid_file_is_refused_with_how_to_recover(tmp_path):
    path = await filled(tmp_path / "hiscrm.db")
    overwrite_middle_pages(path)
    damaged = path.read_bytes()
    db = Database(f"sqlite:///{path}")
    with pytest.raises(DatabaseDamaged) as info:
        await db.upgrade()
    message = str(info.value)
    assert f"the database {path} is damaged" in message and "nothing was written" in message
    assert str(backup_dir_for(path)) in message and ".recover" in message
    with pytest.raises(DatabaseDamaged):  # nothing is written into it afterwards either
        await db.write(lambda s: s.add(Account(id="acc-2", platform="sandbox", display_name="B")))
    await db.close()
    assert path.read_bytes() == damaged


async def test_backup_copies_a_live_database_consistently_and_privately(tmp_path):
    path = await filled(tmp_path / "hiscrm.db", comments=500)
    db = Database(f"sqlite:///{path}")
    await db.upgrade()
    copy = await backup(db, tmp_path / "copy.db")
    await db.write(lambda s: s.add(Account(id="acc-after", platform="sandbox", display_name="Later")))
    await db.close()
    assert copy == tmp_path / "copy.db"
    check = sqlite3.connect(copy)
    assert check.execute("PRAGMA quick_check").fetchone() == ("ok",)
    assert check.execute("SELECT count(*) FROM comments").fetchone() == (500,)
    assert check.execute("SELECT count(*) FROM accounts").fetchone() == (1,)  # as of the copy
    check.close()
    if sys.platform != "win32":
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert not list(tmp_path.glob("*.partial"))


async def test_a_daily_backup_is_taken_once_a_day_and_kept_for_a_week(tmp_path):
    path = await filled(tmp_path / "hiscrm.db", comments=10)
    db = Database(f"sqlite:///{path}")
    await db.upgrade()
    day = 86_400
    start = time.time()
    first = await take_daily_backup(db, now=start)
    assert first is not None and first.parent == backup_dir_for(path)
    os.utime(first, (start, start))
    assert await take_daily_backup(db, now=start + day / 2) is None  # one is recent
    taken = [first]
    for n in range(1, 10):  # ten days of starts
        now = start + n * day + 1
        copy = await take_daily_backup(db, now=now)
        assert copy is not None
        os.utime(copy, (now, now))
        taken.append(copy)
    await db.close()
    kept = sorted(p for p in backup_dir_for(path).iterdir())
    assert kept == sorted(taken[-8:])  # a week back from the newest, and the newest


async def test_postgresql_is_not_copied_but_pointed_to_pg_dump():
    db = Database("postgresql://u:s3cret@127.0.0.1:9/x")
    with pytest.raises(DatabaseError, match="pg_dump") as info:
        await backup(db, os.getcwd())
    assert "s3cret" not in str(info.value)
    assert await take_daily_backup(db) is None
    await db.close()
