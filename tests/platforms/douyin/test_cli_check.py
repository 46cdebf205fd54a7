"""`hiscrm douyin check` as an operator runs it: a real process, a real Chromium."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
KEYRING = "keyring.backends.fail.Keyring"
pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def hiscrm(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHON_KEYRING_BACKEND"] = KEYRING  # the key in the home's file, never the OS keyring
    return subprocess.run([sys.executable, "-m", "app", "--home", str(home), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=110)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_check_says_clearly_when_douyin_cannot_be_reached(tmp_path):
    done = hiscrm(tmp_path, "douyin", "check", "--proxy", f"http://127.0.0.1:{closed_port()}")
    assert done.returncode == 1
    assert "Douyin could not be reached from this machine" in done.stderr
    assert "ERR_PROXY_CONNECTION_FAILED" in done.stderr and "Traceback" not in done.stderr
    saved = done.stdout.strip().splitlines()[-1].removeprefix("report saved to ")
    report = json.loads(Path(saved).read_text(encoding="utf-8"))
    assert Path(saved).is_relative_to(tmp_path) and report["reachable"] is False


def test_an_unknown_account_is_named(tmp_path):
    done = hiscrm(tmp_path, "douyin", "check", "--account", "没有这个号")
    assert done.returncode == 1
    assert "unknown account '没有这个号'" in done.stderr and "Traceback" not in done.stderr


def make_accounts(home: Path) -> dict[str, str]:
    """A home whose database holds a Douyin account that never logged in and a sandbox one."""
    import asyncio

    import keyring
    from keyring.backends.fail import Keyring

    from app.engine.accounts import AccountService
    from app.engine.bus import EventBus
    from app.engine.paths import app_paths
    from app.engine.secrets import SecretBox
    from app.engine.store.db import Database

    async def create() -> dict[str, str]:
        paths = app_paths(home).ensure()
        db = Database(paths.default_database_url)
        await db.upgrade()
        accounts = AccountService(db, EventBus(), SecretBox.from_keyring(paths))
        try:
            return {"douyin": await accounts.create("douyin", "抖音一号"),
                    "sandbox": await accounts.create("sandbox", "沙盒一号")}
        finally:
            await db.close()

    previous = keyring.get_keyring()
    keyring.set_keyring(Keyring())
    try:
        return asyncio.run(create())
    finally:
        keyring.set_keyring(previous)


def test_an_account_without_a_session_or_of_another_platform_is_refused_before_any_page(tmp_path):
    make_accounts(tmp_path)
    done = hiscrm(tmp_path, "douyin", "check", "--account", "抖音一号")
    assert done.returncode == 1 and "has no saved session: log it in first" in done.stderr
    done = hiscrm(tmp_path, "douyin", "check", "--account", "沙盒一号")
    assert done.returncode == 1 and "'沙盒一号' is not a Douyin account" in done.stderr
    assert not (tmp_path / "data" / "douyin").exists()  # no browser was started, no report written
