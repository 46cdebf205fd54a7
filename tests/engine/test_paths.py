"""The home and everything in it is private to the user (POSIX), new or left by an older run."""
import os
import stat
import sys

import pytest

from app.engine.errors import StartupError
from app.engine.logs import setup_logging
from app.engine.paths import app_paths
from app.engine.store.db import Database

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask():
    """Start from the usual 022, as a desktop session does; put back what the process had."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


async def test_a_new_home_is_0700_and_its_database_wal_shm_and_log_are_0600(tmp_path):
    paths = app_paths(tmp_path / "home").ensure()
    assert {mode(d) for d in (paths.home, paths.config_dir, paths.data_dir, paths.log_dir)} == {0o700}
    log_file = setup_logging(paths.log_dir)
    db = Database(paths.default_database_url)
    await db.upgrade()
    try:
        db_file = paths.data_dir / "hiscrm.db"
        files = [db_file, db_file.with_name("hiscrm.db-wal"), db_file.with_name("hiscrm.db-shm"), log_file]
        assert all(f.exists() for f in files)
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        await db.close()


def test_what_an_older_version_left_readable_is_made_private_at_start(tmp_path):
    paths = app_paths(tmp_path / "home")
    for folder in (paths.config_dir, paths.data_dir, paths.log_dir, paths.data_dir / "sandbox"):
        folder.mkdir(parents=True, mode=0o755)
        folder.chmod(0o755)
    old = [paths.settings_file, paths.data_dir / "hiscrm.db", paths.data_dir / "hiscrm.db-wal",
           paths.log_dir / "hiscrm.log.1"]
    for f in old:
        f.write_text("x")
        f.chmod(0o644)
    paths.ensure()
    assert {mode(d) for d in (paths.config_dir, paths.data_dir, paths.log_dir)} == {0o700}
    assert {f.name: mode(f) for f in old} == {f.name: 0o600 for f in old}


def test_a_home_that_cannot_be_created_is_a_clear_startup_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the home would go")
    with pytest.raises(StartupError, match=f"cannot create the folder {blocker}/home"):
        app_paths(blocker / "home").ensure()
