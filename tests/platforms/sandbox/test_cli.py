"""`hiscrm sandbox serve` and `hiscrm sandbox inject`, run as a user would (subprocesses)."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from app.platforms.sandbox.control_client import SandboxControl

pytestmark = [pytest.mark.timeout(60), pytest.mark.asyncio(loop_scope="module")]


async def _hiscrm(home, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "--home", str(home), "sandbox", *args,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def test_serve_runs_the_site_and_inject_sends_it_traffic(tmp_path):
    server = await _hiscrm(tmp_path, "serve", "--port", "0", "--world", str(tmp_path / "world.json"))
    try:
        line = (await asyncio.wait_for(server.stdout.readline(), 30)).decode()
        assert line.startswith("sandbox site: http://127.0.0.1:"), line
        url = line.split()[2]
        async with SandboxControl(url) as control:
            await control.ensure_creator("CLI Creator")
            inject = await _hiscrm(tmp_path, "inject", "--url", url, "--comments-per-s", "20", "--dms-per-s", "10",
                                   "--duration", "1", "--creator", "CLI Creator")
            out, err = await asyncio.wait_for(inject.communicate(), 30)
            assert inject.returncode == 0, err.decode()
            assert out.decode().startswith("injected ")
            state = next(c for c in (await control.state())["creators"] if c["name"] == "CLI Creator")
            assert state["messages"] > 2  # the two seeded DMs and the injected ones
            comments = await control.comments("CLI Creator")
            assert any(not c["text"].isascii() for c in comments)  # CJK and emoji among them
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.wait(), 15)
    assert server.returncode == 0
    assert (tmp_path / "world.json").exists()  # saved on the way out


async def test_inject_says_clearly_when_the_site_is_not_there(tmp_path):
    inject = await _hiscrm(tmp_path, "inject", "--url", "http://127.0.0.1:9", "--duration", "1")
    out, err = await asyncio.wait_for(inject.communicate(), 30)
    assert inject.returncode == 1
    assert "not reachable" in err.decode()


async def test_sandbox_help_lists_its_subcommands(tmp_path):
    process = await _hiscrm(tmp_path, "--help")
    out, _err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    assert "serve" in out.decode() and "inject" in out.decode()


async def test_inject_for_a_creator_the_site_does_not_have_fails_and_names_the_ones_it_has(tmp_path):
    server = await _hiscrm(tmp_path, "serve", "--port", "0")
    try:
        url = (await asyncio.wait_for(server.stdout.readline(), 30)).decode().split()[2]
        async with SandboxControl(url) as control:
            await control.ensure_creator("Real Creator")
            inject = await _hiscrm(tmp_path, "inject", "--url", url, "--duration", "1", "--creator", "nobody")
            _out, err = await asyncio.wait_for(inject.communicate(), 30)
            assert inject.returncode == 1
            assert "the site has no creator 'nobody'; its creators: Real Creator" in err.decode()
            assert await control.creator_names() == ["Real Creator"]  # not created by the attempt
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.wait(), 15)


async def test_what_the_audience_wrote_survives_a_kill_9_of_the_site(tmp_path):
    """Every change is on disk before it is answered: a kill -9 right after loses nothing."""
    from app.platforms.sandbox.site import SandboxSite

    world = tmp_path / "world.json"
    server = await _hiscrm(tmp_path, "serve", "--port", "0", "--world", str(world))
    try:
        url = (await asyncio.wait_for(server.stdout.readline(), 30)).decode().split()[2]
        async with SandboxControl(url) as control:
            await control.ensure_creator("Durable")
            comment = await control.inject_comment("Ann", "写在崩溃前 ✍️", creator="Durable")
            dm = await control.inject_dm("Ben", "sent just before the kill", creator="Durable")
        server.kill()  # SIGKILL: nothing runs on the way out
        await asyncio.wait_for(server.wait(), 15)
    finally:
        if server.returncode is None:
            server.kill()
    reloaded = SandboxSite(world_file=world).world
    creator = reloaded.creator_by_name("Durable")
    assert creator.comments[comment["comment"]["cid"]].text == "写在崩溃前 ✍️"
    messages = [m for conv in creator.conversations.values() for m in conv.messages]
    assert dm["message"]["msg_id"] in {m.msg_id for m in messages}
