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
pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def hiscrm(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
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
