"""`hiscrm worker` as an operator starts it: the composition root's worker mode, in a child
process, attached to the real master side (tests/worker/conftest.py)."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.test_cli import quiet_home

ROOT = Path(__file__).resolve().parents[2]


async def run_worker(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "worker", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def test_without_a_token_it_says_where_to_get_one(tmp_path):
    env = quiet_home(tmp_path)
    env.pop("HISCRM_MASTER_TOKEN", None)
    process = await run_worker(env, "--master", "http://127.0.0.1:9")
    _out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert "--token" in err.decode() and "hiscrm token" in err.decode()


async def test_a_refused_token_ends_it_with_the_masters_reason(tmp_path, master):
    process = await run_worker(quiet_home(tmp_path), "--master", master.url, "--token", "wrong")
    _out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert "refused this worker: a valid token is required" in err.decode()
    assert master.link.workers == {}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_it_registers_what_it_can_run_keeps_its_id_and_stops_on_sigterm(tmp_path, master):
    env = {**quiet_home(tmp_path), "HISCRM_MASTER_TOKEN": master.token}
    ids = []
    for run in range(2):
        process = await run_worker(env, "--master", master.url, "--max-accounts", "4",
                                   *(["--sandbox-url", "http://127.0.0.1:9"] if run else []))
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert "attached to " + master.url in line, line
        register = (await master.until(lambda: master.of("worker:register")[run:], what="the registration"))[0]
        worker = master.link.workers[register["worker_id"]]  # as the master took it
        assert worker.max_accounts == 4 and worker.connected
        assert worker.capabilities == ({"douyin", "sandbox"} if run else {"douyin"})  # sandbox: its master's site
        ids.append(register["worker_id"])
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 60) == 0
    assert ids[0] == ids[1] and ids[0].startswith("worker-")
    assert os.path.exists(tmp_path / "home" / "data" / "worker" / "deltas.db")
