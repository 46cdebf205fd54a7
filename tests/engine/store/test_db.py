"""The Database: migrations, transactions off the event loop, and clear errors for a database
that cannot be used (which is never modified)."""
import asyncio
import threading

import pytest
from sqlalchemy import inspect, text

from app.engine.store.db import Database, DatabaseError
from alembic.script import ScriptDirectory

from app.engine.store.migrations import alembic_config, current_revisions
from app.engine.store.models import Account


async def test_upgrade_creates_every_table_and_is_repeatable(db):
    await db.upgrade()  # a second run finds nothing to do
    tables = set(await db.read(lambda s: inspect(s.connection()).get_table_names()))
    assert {"accounts", "contents", "comments", "conversations", "direct_messages", "replies",
            "workers", "proxies", "settings", "audit_log"} <= tables
    assert "quick_replies" not in tables  # never used: dropped by 0007_drop_unused
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revisions(db) == (head,)


async def test_write_commits_and_read_sees_it(db):
    await db.write(lambda s: s.add(Account(id="acc-1", platform="sandbox", display_name="A")))
    names = await db.read(lambda s: [a.display_name for a in s.query(Account)])
    assert names == ["A"]


async def test_failed_write_rolls_back_everything(db):
    def half_then_fail(session):
        session.add(Account(id="acc-1", platform="sandbox", display_name="A"))
        session.flush()
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await db.write(half_then_fail)
    assert await db.read(lambda s: s.query(Account).count()) == 0


async def test_database_work_never_runs_on_the_event_loop_thread(db):
    loop_thread = threading.get_ident()
    assert await db.write(lambda s: threading.get_ident()) != loop_thread
    assert await db.read(lambda s: threading.get_ident()) != loop_thread


async def test_reads_run_while_a_write_is_in_progress(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    await db.upgrade()
    release = threading.Event()
    flushed = threading.Event()

    def slow_write(session):
        session.add(Account(id="acc-1", platform="sandbox", display_name="A"))
        session.flush()
        flushed.set()
        release.wait(10)

    writing = asyncio.ensure_future(db.write(slow_write))
    assert await asyncio.to_thread(flushed.wait, 10)  # the write transaction is open
    # WAL: the reader is not blocked by the open write transaction and sees the old state.
    assert await asyncio.wait_for(db.read(lambda s: s.query(Account).count()), 5) == 0
    release.set()
    await writing
    assert await db.read(lambda s: s.query(Account).count()) == 1
    await db.close()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    await db.upgrade()
    pragmas = await db.read(lambda s: [s.execute(text(f"PRAGMA {p}")).scalar()
                                       for p in ("journal_mode", "foreign_keys", "synchronous")])
    assert pragmas == ["wal", 1, 1]  # synchronous 1 = NORMAL
    await db.close()


async def test_a_file_that_is_not_a_database_is_reported_and_left_untouched(tmp_path):
    path = tmp_path / "notes.db"
    content = b"These are my notes, not a database.\n" * 200
    path.write_bytes(content)
    db = Database(f"sqlite:///{path}")
    with pytest.raises(DatabaseError, match="not a HisCRM database or is damaged") as info:
        await db.upgrade()
    assert str(path) in str(info.value)
    await db.close()
    assert path.read_bytes() == content


async def test_a_truncated_database_is_reported_and_left_untouched(tmp_path):
    path = tmp_path / "hiscrm.db"
    db = Database(f"sqlite:///{path}")
    await db.upgrade()
    await db.close()
    damaged = path.read_bytes()[: 4096 + 100]  # header page intact, the rest cut off
    path.write_bytes(damaged)
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"hiscrm.db{suffix}").unlink(missing_ok=True)
    db = Database(f"sqlite:///{path}")
    with pytest.raises(DatabaseError, match="damaged"):
        await db.upgrade()
    await db.close()
    assert path.read_bytes() == damaged


async def test_a_database_from_a_newer_version_is_refused(db_url):
    db = Database(db_url)
    await db.upgrade()
    await db.write(lambda s: s.execute(text("UPDATE alembic_version SET version_num = '0099_future'")))
    with pytest.raises(DatabaseError, match="created by a newer HisCRM version"):
        await db.upgrade()
    assert current_revisions(db) == ("0099_future",)  # not "repaired" behind the user's back
    await db.close()


async def test_unreachable_postgresql_is_reported_without_the_password():
    db = Database("postgresql://hiscrm:s3cret@127.0.0.1:9/nowhere?connect_timeout=2")
    with pytest.raises(DatabaseError, match="cannot reach the PostgreSQL database") as info:
        await db.upgrade()
    assert "s3cret" not in str(info.value)
    await db.close()


def test_redacted_hides_the_password():
    assert "s3cret" not in Database.redacted("postgresql+psycopg://u:s3cret@h/db")
    assert "***" in Database.redacted("postgresql+psycopg://u:s3cret@h/db")


async def test_closed_database_refuses_work(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    await db.close()
    with pytest.raises(DatabaseError, match="closed"):
        await db.read(lambda s: 1)


@pytest.mark.parametrize("templates", [0, 1])
def test_the_unused_templates_table_is_dropped_unless_someone_filled_it(tmp_path, templates):
    """0007_drop_unused: the never-used quick_replies table goes; rows put in by hand are kept."""
    from alembic import command

    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config()
    try:
        with database.engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0003_topic_statistics")
            if templates:
                connection.execute(text("INSERT INTO quick_replies (title, text, created_at) VALUES ('hi', 'Hello!', 0)"))
            command.upgrade(config, "head")
            connection.commit()
            has_table = inspect(connection).has_table("quick_replies")
            assert has_table == bool(templates)
            command.downgrade(config, "0003_topic_statistics")
            connection.commit()
            assert inspect(connection).has_table("quick_replies")
    finally:
        database.engine.dispose()


def test_redacted_hides_a_password_given_as_a_query_parameter():
    url = "postgresql://hiscrm@db.example/crm?password=s3cret&sslmode=require"
    shown = Database.redacted(url)
    assert "s3cret" not in shown
    assert "password=***" in shown and "sslmode=require" in shown


async def test_unreachable_postgresql_with_a_query_password_is_reported_without_it(caplog):
    db = Database("postgresql://hiscrm@127.0.0.1:9/nowhere?password=s3cret&connect_timeout=2")
    with pytest.raises(DatabaseError, match="cannot reach the PostgreSQL database") as info:
        await db.upgrade()
    assert "s3cret" not in str(info.value) and "s3cret" not in caplog.text
    await db.close()


@pytest.mark.parametrize("url, message", [
    ("mysql://u@h/crm", "unsupported database mysql://u@h/crm"),
    ("not a url", "is not a database URL"),
    ("sqlite+nodriver:///x.db", "unsupported database driver"),
    ("postgresql+nodriver://u:s3cret@h/crm", "unsupported database driver"),
])
def test_an_unusable_database_url_is_a_clear_error(url, message):
    with pytest.raises(DatabaseError, match=message) as info:
        Database(url)
    assert "s3cret" not in str(info.value)
