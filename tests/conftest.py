"""Fixtures shared by every test: a private HISCRM_HOME and real databases.

- `home`: a temporary HISCRM_HOME, so no test touches the real user directories.
- `pg_url`: a URL to a fresh, empty PostgreSQL schema (one throwaway database per test module,
  one schema per test); skipped when HISCRM_TEST_PG_URL is unset (scripts/run-tests.sh sets it).
- `db_url`: parametrized over a SQLite file in tmp and PostgreSQL, nothing created yet.
- `db`: an upgraded `Database` on `db_url`, closed after the test. (Migrating a fresh schema
  is faster here than copying a migrated template database.)
- `xvfb_display`: a virtual X display (DISPLAY) for a headed browser.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest
from sqlalchemy import create_engine, make_url, text

from app.engine.store.db import Database

PG_ENV = "HISCRM_TEST_PG_URL"

pytest_plugins = ["tests.watchdog", "tests.browser_mark"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HISCRM_HOME", str(path))
    return path


@pytest.fixture(scope="module")
def pg_database_url():
    """A throwaway PostgreSQL database for one test module, dropped afterwards.

    Extensions belong to a database, not a schema: pg_trgm (for search) is installed once in
    its `public` schema, which every test schema's search_path includes."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set (scripts/pg-test-server.sh start prints a URL)")
    name = f"hiscrm_test_{uuid.uuid4().hex[:12]}"
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = create_engine(url, isolation_level="AUTOCOMMIT")
    with database.connect() as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
    database.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_database_url):
    """A fresh schema in the module's database, made the default through search_path."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(pg_database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    url = make_url(pg_database_url).update_query_dict({"options": f"-csearch_path={schema},public"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'hiscrm.db').as_posix()}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
async def db(db_url):
    database = Database(db_url)
    await database.upgrade()
    yield database
    await database.close()


@pytest.fixture
def xvfb_display(monkeypatch):
    """A virtual X display for a headed browser (skipped where Xvfb is not installed)."""
    xvfb = shutil.which("Xvfb")
    if not xvfb:
        pytest.skip("Xvfb is not installed")
    read_fd, write_fd = os.pipe()
    # -displayfd: Xvfb picks a free display number and writes it to the pipe when ready.
    process = subprocess.Popen([xvfb, "-displayfd", str(write_fd), "-screen", "0", "1280x800x24"],
                               pass_fds=(write_fd,), stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as ready:
        display = ready.readline().strip()
    monkeypatch.setenv("DISPLAY", f":{display}")
    yield display
    process.terminate()
    process.wait(timeout=10)
