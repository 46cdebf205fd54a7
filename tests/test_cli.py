"""The `hiscrm` command as an operator starts it: headless without a display, and a console
that a SIGTERM (a logout, `kill`) stops in order."""
from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
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


# ---- Problems an operator can fix: one line, the right exit code, never a traceback ----------
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ")


def tracebacks(text: str) -> list[str]:
    """The tracebacks in a command's output, except those of a platform plugin another
    checkout installed into the shared environment failing to load (logged, not ours)."""
    records, current = [], []
    for line in text.splitlines():
        if LOG_RECORD.match(line) or line.startswith("hiscrm:"):
            records.append("\n".join(current))
            current = []
        current.append(line)
    records.append("\n".join(current))
    return [r for r in records if "Traceback" in r and "platform plugin" not in r]


def one_clear_line(result: subprocess.CompletedProcess) -> str:
    assert not tracebacks(result.stderr + result.stdout), result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("hiscrm:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_deeply_nested_file_is_refused_and_the_next_file_still_imported(tmp_path):
    env = quiet_home(tmp_path)
    deep = tmp_path / "deep.json"
    deep.write_text('{"accountId": "a", "snapshot": ' + "[" * 100_000 + "]" * 100_000 + "}")
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"accountId": "acc-good", "platform": "douyin", "snapshot": {"data": {
        "comments": [{"commentId": "c-1", "contentId": "v-1", "content": "hi", "createdAt": 1716100000}]}}}))
    result = run_cli(["db", "import", str(deep), str(good)], env)
    assert result.returncode == 1
    assert f"{deep}: not imported: not a snapshot: JSON nested more than 64 levels deep" in one_clear_line(result)
    assert f"{good}: 1 records imported, 0 rejected" in result.stdout


def test_a_lone_surrogate_in_the_account_id_is_refused_clearly(tmp_path):
    env = quiet_home(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"accountId": "acc-\\ud800", "platform": "douyin", "snapshot": {"data": {}}}')
    result = run_cli(["db", "import", str(bad)], env)
    assert result.returncode == 1
    assert "accountId is not valid Unicode text" in one_clear_line(result)


def test_a_deeply_nested_settings_file_is_exit_code_2_with_one_line(tmp_path):
    env = quiet_home(tmp_path)
    settings = Path(env["HISCRM_HOME"]) / "config" / "settings.json"
    settings.write_text('{"server": ' + "[" * 5000 + "]" * 5000 + "}")
    result = run_cli(["serve", "--no-browsers"], env)
    assert result.returncode == 2
    assert "not a settings file (JSON nested too deeply)" in one_clear_line(result)


@pytest.mark.parametrize("url", ["mysql://crm@db/crm", "sqlite+nodriver:///x.db", "nonsense"])
def test_an_unsupported_database_url_in_the_settings_stops_serve_with_one_line(tmp_path, url):
    env = quiet_home(tmp_path)
    settings = Path(env["HISCRM_HOME"]) / "config" / "settings.json"
    settings.write_text(json.dumps({"first_run_done": True, "sandbox": {"enabled": False}, "database_url": url}))
    result = run_cli(["serve", "--no-browsers"], env)
    assert result.returncode == 1
    assert "database" in one_clear_line(result)


def test_a_home_that_cannot_be_created_is_one_line(tmp_path):
    env = quiet_home(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env["HISCRM_HOME"] = str(blocker / "home")
    result = run_cli(["db", "upgrade"], env)
    assert result.returncode == 1
    assert f"cannot create the folder {blocker}/home" in one_clear_line(result)


def test_a_config_folder_that_cannot_be_written_stops_serve_with_one_line(tmp_path):
    from tests.fs_faults import read_only_folder

    env = quiet_home(tmp_path)
    home = Path(env["HISCRM_HOME"])
    settings = (home / "config" / "settings.json").read_text()
    (home / "config" / "settings.json").unlink()
    (home / "config").rmdir()
    with read_only_folder(home / "config"):
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
        result = run_cli(["serve", "--no-browsers"], env)
    assert settings
    assert result.returncode == 1
    assert "cannot keep the encryption key in" in one_clear_line(result)


def test_a_password_in_the_url_query_is_never_printed(tmp_path):
    env = quiet_home(tmp_path)
    result = run_cli(["--database-url", "postgresql://crm@127.0.0.1:9/crm?password=s3cret&connect_timeout=2",
                      "db", "upgrade"], env)
    assert result.returncode == 1
    assert "cannot reach the PostgreSQL database" in one_clear_line(result)
    log = (Path(env["HISCRM_HOME"]) / "logs" / "hiscrm.log").read_text()
    assert "s3cret" not in result.stderr + result.stdout + log


def test_a_full_disk_during_import_says_what_was_committed(tmp_path):
    from tests.fs_faults import small_disk

    env = quiet_home(tmp_path)
    records = [{"commentId": f"c-{i}", "contentId": "v-1", "authorName": f"fan {i}",
                "content": f"comment number {i} " * 6, "createdAt": 1716100000 + i} for i in range(30_000)]
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"accountId": "acc-big", "platform": "douyin",
                               "snapshot": {"data": {"contents": [{"contentId": "v-1"}], "comments": records}}}))
    data = Path(env["HISCRM_HOME"]) / "data"
    with small_disk(data, "3m"):
        result = run_cli(["db", "import", str(big)], env)
        line = one_clear_line(result)
        stored = sqlite3.connect(data / "hiscrm.db").execute("SELECT count(*) FROM comments").fetchone()[0]
    assert result.returncode == 1
    assert 0 < stored < 30_000
    assert f"stopped after committing {stored + 1} records (1 contents, {stored} comments)" in line
    assert "full" in line and "import the file again" in line


def test_a_damaged_database_is_refused_by_import_and_serve_and_backup_still_copies_it(tmp_path):
    env = quiet_home(tmp_path)
    snapshot = tmp_path / "s.json"
    snapshot.write_text(json.dumps({"accountId": "acc-1", "platform": "douyin", "snapshot": {"data": {
        "comments": [{"commentId": f"c-{i}", "contentId": "v-1", "content": f"text {i} " * 20,
                      "createdAt": 1716100000 + i} for i in range(3000)]}}}))
    assert run_cli(["db", "import", str(snapshot)], env).returncode == 0
    db_file = Path(env["HISCRM_HOME"]) / "data" / "hiscrm.db"
    size = db_file.stat().st_size
    with open(db_file, "r+b") as f:  # pages in the middle overwritten, the header intact
        f.seek(size // 4096 // 2 * 4096)
        f.write(os.urandom(3 * 4096))
    damaged = db_file.read_bytes()

    for args in (["db", "import", str(snapshot)], ["serve", "--no-browsers"], ["db", "export", "acc-1"]):
        result = run_cli(args, env)
        assert result.returncode == 1, args
        line = one_clear_line(result)
        assert "is damaged" in line and "To recover" in line and "backups" in line
    assert db_file.read_bytes() == damaged

    copy = tmp_path / "copy.db"
    result = run_cli(["db", "backup", str(copy)], env)
    assert result.returncode == 0 and copy.exists()


def test_db_backup_takes_a_dated_private_copy(tmp_path):
    env = quiet_home(tmp_path)
    assert run_cli(["db", "upgrade"], env).returncode == 0
    result = run_cli(["db", "backup"], env)
    assert result.returncode == 0, result.stderr
    copies = list((Path(env["HISCRM_HOME"]) / "data" / "backups").glob("hiscrm-*.db"))
    assert len(copies) == 1 and f"database copied to {copies[0]}" in result.stdout
    if sys.platform != "win32":
        assert copies[0].stat().st_mode & 0o777 == 0o600
    pg = run_cli(["--database-url", "postgresql://crm:s3cret@127.0.0.1:9/crm", "db", "backup"], env)
    assert pg.returncode == 1 and "pg_dump" in one_clear_line(pg) and "s3cret" not in pg.stderr


def test_db_export_takes_the_account_name_and_lists_the_ids_of_an_ambiguous_one(tmp_path):
    env = quiet_home(tmp_path)
    for account_id in ("acc-one", "acc-two", "acc-three"):
        path = tmp_path / f"{account_id}.json"
        path.write_text(json.dumps({"accountId": account_id, "platform": "douyin", "snapshot": {"data": {}}}))
        assert run_cli(["db", "import", str(path)], env).returncode == 0
    db_file = Path(env["HISCRM_HOME"]) / "data" / "hiscrm.db"
    with sqlite3.connect(db_file) as connection:
        connection.execute("UPDATE accounts SET display_name = '演示店铺' WHERE id = 'acc-one'")
        connection.execute("UPDATE accounts SET display_name = 'Twin' WHERE id IN ('acc-two', 'acc-three')")
    result = run_cli(["db", "export", "演示店铺"], env)
    assert result.returncode == 0 and json.loads(result.stdout)["accountId"] == "acc-one"
    twin = run_cli(["db", "export", "Twin"], env)
    assert twin.returncode == 1
    line = one_clear_line(twin)
    assert "2 accounts are named 'Twin'" in line and "acc-two" in line and "acc-three" in line


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_the_home_and_its_files_are_private_after_a_run(tmp_path):
    env = quiet_home(tmp_path)
    home = Path(env["HISCRM_HOME"])
    home.chmod(0o755)
    (home / "config").chmod(0o755)
    (home / "config" / "settings.json").chmod(0o644)
    assert run_cli(["db", "upgrade"], env).returncode == 0
    folders = [home, home / "config", home / "data", home / "logs"]
    assert {str(f): f.stat().st_mode & 0o777 for f in folders} == {str(f): 0o700 for f in folders}
    files = [p for p in home.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"settings.json", "hiscrm.db", "hiscrm.log"}
    assert {str(p): p.stat().st_mode & 0o777 for p in files} == {str(p): 0o600 for p in files}


def test_serve_says_what_runs_then_a_line_per_interval_of_what_was_stored(tmp_path):
    """Headless, the terminal is all the operator has: the sandbox's address, the accounts
    and their login state, the log file, then a line per minute (here, per half second)."""
    env = quiet_home(tmp_path)
    home = Path(env["HISCRM_HOME"])
    (home / "config" / "settings.json").write_text(json.dumps(
        {"first_run_done": True, "sandbox": {"enabled": True, "demo_traffic": False}}))
    snapshot = tmp_path / "legacy.json"
    snapshot.write_text(json.dumps({
        "accountId": "acc-legacy-1", "platform": "douyin", "timestamp": 1717000000000,
        "snapshot": {"platform": "douyin", "data": {"contents": [], "comments": [], "conversations": [],
                                                    "messages": [], "notifications": []}},
    }), encoding="utf-8")
    assert run_cli(["db", "import", str(snapshot)], env).returncode == 0
    process = start(["serve", "--no-browsers"], {**env, "HISCRM_REPORT_INTERVAL_S": "0.5"})
    try:
        output = read_until(process, "hiscrm: last 0.5 s: stored 0 comments, 0 DMs; sent 0 replies")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    assert re.search(r"hiscrm: sandbox site at http://127\.0\.0\.1:\d+/\n", output)
    assert "hiscrm: 1 account\n" in output and re.search(r"\n  \S.* · 抖音 · not logged in\n", output)
    assert f"hiscrm: log file {home / 'logs' / 'hiscrm.log'}\n" in output
