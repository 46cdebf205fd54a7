"""The database connection: SQLite (default) or PostgreSQL, reached off the event loop.

Every statement runs on a worker thread, never on the event loop (in the console that loop is
the Qt UI thread, so a slow query must not freeze the window):

- writes go through ONE writer thread (`await db.write(fn)`), which serialises them the way
  SQLite needs anyway and gives each call exactly one transaction;
- reads go to a small pool of reader threads (`await db.read(fn)`); with SQLite in WAL mode
  they read a consistent snapshot while the writer writes.

`upgrade()` brings the schema to the newest Alembic revision and turns the ways a database can
be unusable (not a database, damaged, made by a newer HisCRM, server unreachable) into a
`DatabaseError` whose message tells the operator what is wrong; such a file is never touched.
A SQLite file is checked first (`PRAGMA quick_check`): pages overwritten in the middle leave
the header intact, so opening works and the damage shows only when a query reaches them, by
then maybe after new rows were written into the damaged file. A damaged file refuses every
write (DatabaseDamaged) and the message says how to recover (backup.py).
"""
from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from sqlalchemy import create_engine, event, exc, make_url
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from ..errors import StartupError, describe_os_error

log = logging.getLogger(__name__)
T = TypeVar("T")

READER_THREADS = 4
SQLITE_BUSY_TIMEOUT_MS = 10_000
HIDDEN = "***"
QUICK_CHECK_LINES = 5  # problems quoted in the message; the rest are counted by SQLite's check


class DatabaseError(StartupError):
    """The database cannot be used; the message says which one and why (password hidden)."""


class DatabaseDamaged(DatabaseError):
    """SQLite's integrity check found damage; nothing is written into such a file."""


class Database:
    def __init__(self, url: str) -> None:
        self.url = _normalise_url(url)
        try:
            parsed = make_url(self.url)
        except exc.ArgumentError:
            raise DatabaseError(
                f"{Database.redacted(url)} is not a database URL: use sqlite:///FILE or "
                "postgresql://USER@HOST/DATABASE") from None
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise DatabaseError(f"unsupported database {Database.redacted(url)}: use sqlite or postgresql")
        self._in_memory = self.dialect == "sqlite" and parsed.database in (None, "", ":memory:")
        self.damage: str | None = None  # what quick_check found, once it found something
        try:
            self.engine: Engine = self._create_engine(parsed)
        except exc.NoSuchModuleError:
            raise DatabaseError(
                f"unsupported database driver in {Database.redacted(url)}: use sqlite:///FILE or "
                "postgresql://… (the psycopg driver)") from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(hiscrm_writer=True), expire_on_commit=False
        )
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="hiscrm-db-write")
        # An in-memory SQLite database lives in one connection: readers share the writer thread.
        self._readers = (
            self._writer
            if self._in_memory
            else ThreadPoolExecutor(READER_THREADS, thread_name_prefix="hiscrm-db-read")
        )
        self._closed = False

    # ---- Public API

    @staticmethod
    def redacted(url: str) -> str:
        """The URL with its password hidden, for messages and logs: the user-info password
        and a `password` query parameter (libpq accepts both)."""
        try:
            parsed = make_url(url)
        except exc.ArgumentError:
            return "<invalid database URL>"
        placeholder = "hiscrmhiddenpassword"  # "***" itself would be percent-encoded
        query = {key: (placeholder if key.lower() == "password" else value)
                 for key, value in parsed.query.items()}
        shown = parsed.set(query=query).render_as_string(hide_password=True)
        return shown.replace(placeholder, HIDDEN)

    async def upgrade(self) -> None:
        """Check a SQLite file for damage, then migrate the schema to the newest revision
        (creating it in a new database)."""
        from .migrations import upgrade_to_head

        await self._run(self._writer, self._guarded, self._check_integrity)
        await self._run(self._writer, self._guarded, upgrade_to_head, self)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(session, *args)` in one transaction on the writer thread; commit on success,
        roll back (and re-raise) on error. A damaged file refuses (DatabaseDamaged)."""
        if self.damage is not None:
            raise DatabaseDamaged(self.damage)
        return await self._run(self._writer, self._in_transaction, fn, args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(session, *args)` on a reader thread; nothing it changes is committed."""
        return await self._run(self._readers, self._in_read_session, fn, args)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A plain session on the calling thread, for tests and benchmarks (commit yourself)."""
        with self._sessions() as session:
            yield session

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._shutdown)

    # ---- Internals

    async def _run(self, executor: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise DatabaseError("the database is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, functools.partial(fn, *args))

    def _in_transaction(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self._write_sessions() as session, session.begin():
            return fn(session, *args)

    def _in_read_session(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        # Closing (not rolling back) ends the transaction and keeps loaded objects readable.
        with self._sessions() as session:
            return fn(session, *args)

    def _check_integrity(self) -> None:
        """SQLite's quick check (every page and index entry, not the index contents: seconds
        for a big file, where integrity_check would take minutes)."""
        if self.dialect != "sqlite" or self._in_memory:
            return
        with self.engine.connect() as connection:  # a file that is not a database fails here
            try:
                rows = [str(row[0]) for row in connection.exec_driver_sql(
                    f"PRAGMA quick_check({QUICK_CHECK_LINES})")]
            except exc.DatabaseError as e:  # damage the check itself trips over
                rows = [_first_line(e)]
        if rows == ["ok"]:
            return
        from .backup import recovery_advice

        where = self._describe()
        self.damage = (f"the database {where} is damaged ({'; '.join(rows)}); nothing was written "
                       f"to it. {recovery_advice(Path(where))}")
        log.error("%s", self.damage)
        raise DatabaseDamaged(self.damage)

    def _guarded(self, fn: Callable[..., T], *args: Any) -> T:
        """Translate driver errors met while opening/migrating into a clear DatabaseError."""
        where = self._describe()
        try:
            return fn(*args)
        except DatabaseError:
            raise
        except exc.OperationalError as e:
            if self.dialect == "postgresql":
                raise DatabaseError(f"cannot reach the PostgreSQL database {where}: {_first_line(e)}") from e
            raise DatabaseError(f"cannot open the database {where}: {_first_line(e)}") from e
        except exc.DatabaseError as e:
            if self.dialect == "postgresql":
                raise DatabaseError(f"cannot use the PostgreSQL database {where}: {_first_line(e)}") from e
            from .backup import recovery_advice

            self.damage = (f"{where} is not a HisCRM database or is damaged ({_first_line(e)}); "
                           f"it was left untouched. {recovery_advice(Path(where))}")
            raise DatabaseDamaged(self.damage) from e

    @property
    def sqlite_file(self) -> Path | None:
        """The database file (SQLite), else None."""
        if self.dialect != "sqlite" or self._in_memory:
            return None
        return Path(str(make_url(self.url).database))

    def _describe(self) -> str:
        if self.dialect == "sqlite" and not self._in_memory:
            return str(make_url(self.url).database)
        return Database.redacted(self.url)

    def _create_engine(self, url: URL) -> Engine:
        if self.dialect == "postgresql":
            engine = create_engine(url, pool_size=READER_THREADS + 1, pool_pre_ping=True)
            event.listen(engine, "connect", _postgresql_session)
            return engine
        if self._in_memory:
            engine = create_engine(
                url, poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
        else:
            folder = Path(str(url.database)).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise DatabaseError(f"cannot create the folder {folder} for the database: "
                                    f"{describe_os_error(e)}") from e
            engine = create_engine(
                url,
                pool_size=READER_THREADS + 1,
                connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine

    def _shutdown(self) -> None:
        self._writer.shutdown(wait=True)
        if self._readers is not self._writer:
            self._readers.shutdown(wait=True)
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; synchronous=NORMAL is durable across app
    crashes in WAL mode (only an OS crash can lose the last commits) and much faster.

    The driver's own implicit transactions are switched off (`isolation_level = None`) so that
    `_sqlite_begin` decides how each transaction starts."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA cache_size=-32000")  # 32 MB page cache per connection
    finally:
        cursor.close()


def _postgresql_session(dbapi_connection: Any, _record: Any) -> None:
    """psycopg prepares statements it runs often, and PostgreSQL may then switch to a generic
    plan chosen while the tables were still small (seq scans that stay once they are large).
    Planning each execution with its real parameters keeps the indexed lookups."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_connection.commit()


def _sqlite_begin(connection: Any) -> None:
    """Readers take a snapshot (plain BEGIN), so a page and its counts agree; the writer takes
    the write lock up front (BEGIN IMMEDIATE), so a second process waits instead of failing
    half-way through a transaction."""
    writer = connection.get_execution_options().get("hiscrm_writer", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


def _normalise_url(url: str) -> str:
    """Accept the usual spellings: a bare `postgresql://` URL means the psycopg 3 driver."""
    if not url:
        raise DatabaseError("no database URL given")
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _first_line(error: Exception) -> str:
    original = getattr(error, "orig", None) or error
    return str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
