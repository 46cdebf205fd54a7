"""The `hiscrm` command as an operator starts it: headless without a display, and a console
that a SIGTERM (a logout, `kill`) stops in order."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def quiet_home(tmp_path: Path) -> dict[str, str]:
    """A home without the sandbox demo (no browsers needed) and the environment to use it."""
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.json").write_text(json.dumps(
        {"first_run_done": True, "sandbox": {"enabled": False}}))
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["HISCRM_HOME"] = str(home)
    return env


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def read_until(process: subprocess.Popen, text: str, timeout: float = 60) -> str:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    process.kill()
    raise AssertionError(f"{text!r} not printed; output:\n{''.join(seen)}")


def test_without_a_display_it_says_so_and_runs_headless_until_sigterm(tmp_path):
    process = start([], quiet_home(tmp_path))
    output = read_until(process, "engine running headless")
    assert "no display found" in output
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_the_console_stops_in_order_on_sigterm(tmp_path):
    env = quiet_home(tmp_path)
    env["QT_QPA_PLATFORM"] = "offscreen"
    process = start(["-v", "gui"], env)
    read_until(process, "engine started")
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    log = (Path(env["HISCRM_HOME"]) / "logs" / "hiscrm.log").read_text()
    assert "engine stopped" in log


def test_version_is_printed(tmp_path):
    from importlib.metadata import version

    result = run_cli(["--version"], quiet_home(tmp_path))
    assert result.returncode == 0 and result.stdout.strip() == f"hiscrm {version('hiscrm-console')}"


def test_a_second_instance_on_the_same_home_is_refused_and_names_the_first(tmp_path):
    """Two engines on one data folder would poll the same accounts and resend each other's
    replies in flight. The second start says who holds the folder and exits; the first runs on."""
    env = quiet_home(tmp_path)
    first = start(["serve", "--no-browsers"], env)
    try:
        read_until(first, "engine running headless")
        second = run_cli(["serve", "--no-browsers"], env)
        assert second.returncode == 1
        assert "already running" in second.stderr and f"process {first.pid}" in second.stderr
        console = start(["gui"], {**env, "QT_QPA_PLATFORM": "offscreen"})  # a console too
        read_until(console, f"process {first.pid}")
        console.kill()  # it shows a message box now; nobody here closes it
        console.wait(30)
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
    again = start(["serve", "--no-browsers"], env)  # the lock went with the first process
    read_until(again, "engine running headless")
    again.kill()
    again.wait(30)
    log = (Path(env["HISCRM_HOME"]) / "logs" / "hiscrm.log").read_text()
    assert log.count("engine started") == 2  # the refused ones never started an engine


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=120)


def test_db_import_of_an_original_snapshot_then_export(tmp_path):
    """An admin moves an account's data over from the original system, and back out."""
    env = quiet_home(tmp_path)
    snapshot = {
        "accountId": "acc-legacy-1", "platform": "douyin", "timestamp": 1717000000000,
        "snapshot": {"platform": "douyin", "data": {
            "contents": [{"contentId": "v-1", "title": "新品开箱"}],
            "comments": [
                {"commentId": "c-1", "contentId": "v-1", "authorName": "小王", "content": "多少钱？",
                 "createdAt": 1716100000},
                {"commentId": "c-2", "contentId": "v-1", "createdAt": 1716100060},  # no text
            ],
            "conversations": [], "messages": [], "notifications": [],
        }},
    }
    good = tmp_path / "legacy.json"
    good.write_text(json.dumps(snapshot, ensure_ascii=False), encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")

    result = run_cli(["db", "import", str(good), str(broken)], env)
    assert result.returncode == 1  # one file could not be read: said, the other still imported
    assert f"{good}: 2 records imported, 1 rejected" in result.stdout
    assert "c-2" in result.stdout
    assert f"{broken}: not imported" in result.stderr and "Traceback" not in result.stderr

    out = tmp_path / "export.json"
    assert run_cli(["db", "export", "acc-legacy-1", "-o", str(out)], env).returncode == 0
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert exported["accountId"] == "acc-legacy-1"
    assert [c["content"] for c in exported["snapshot"]["data"]["comments"]] == ["多少钱？"]

    missing = run_cli(["db", "export", "acc-nobody"], env)
    assert missing.returncode == 1 and "unknown account" in missing.stderr
