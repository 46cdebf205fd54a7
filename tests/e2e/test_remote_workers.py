"""End to end: a master (`hiscrm serve --server --no-browsers`, a child process) and two
`hiscrm worker` processes on their own homes, against the sandbox site the test runs. The
test drives the master only as a team's tools do: REST and the /admin namespace.

An account is dealt to the first worker and logged in through the relayed QR flow (the
operator's login session on the master; the sandbox "phone" scans the QR code the master was
shown); a comment and a DM arrive at the master; a reply goes out and is confirmed. Then the
first worker dies (SIGKILL of its whole process group, browser included) while the site has
a second reply but its answer is held back: the master deals the account to the second
worker, which finds that reply on the platform instead of sending it again, and picks up
the traffic that arrived meanwhile. Nothing lost, nothing sent twice.
"""
from __future__ import annotations

import pytest

from .harness import site_copies, until
from .processes import MasterClient, MasterProcess, WorkerProcess

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]  # the workers' Chromium runs in their processes

LIVENESS_S = 6.0  # the master's heartbeat timeout (30 s by default): a dead worker's accounts move sooner


async def test_a_remote_worker_logs_in_receives_and_replies_and_a_dead_ones_account_moves_on(
        tmp_path, site, control, slow_replies):
    creator = "Creator Remote"
    master = MasterProcess(tmp_path / "master", "master")
    first, second = WorkerProcess(tmp_path / "w1", "w1"), WorkerProcess(tmp_path / "w2", "w2")
    try:
        await master.start(site.base_url, liveness_s=LIVENESS_S)
        async with MasterClient(master.url) as client:
            account_id = await client.add_account(creator)
            await first.start(master.url, site.base_url)
            await until(lambda: client.worker_holds(account_id, "w1"), what="the account dealt to w1")

            # The operator logs the account in from the master; the worker runs the page.
            await client.log_in(control, account_id, creator)
            assert (await client.account(account_id))["login_status"] == "logged_in"

            comment = (await control.inject_comment("小红", "这个多少钱？How much? #1", creator=creator))["comment"]
            dm = await control.inject_dm("Bob", "Do you ship to Shanghai? 🚚 #1", creator=creator)
            await until(lambda: _has(client, account_id, "这个多少钱？How much? #1", "Do you ship to Shanghai? 🚚 #1"),
                        timeout=30, what="the comment and the DM at the master")
            first_reply = await client.reply(account_id, "r1", "包邮，今天发货 #1", video_id=comment["work_id"],
                                             comment_id=comment["cid"])
            await until(lambda: client.confirmed(first_reply), timeout=30, what="the first reply confirmed")

            await second.start(master.url, site.base_url)
            # The worst moment: the site has the reply, the worker dies before it hears so.
            slow_replies.hold()
            second_reply = await client.reply(account_id, "r2", "Yes, we ship to Shanghai #2",
                                              conversation_id=dm["conversation_id"])
            await until(lambda: slow_replies.held == 1, timeout=30, what="the second reply on the site")
            first.kill()
            slow_replies.release()
            await control.inject_comment("小红", "还有货吗？ #3", creator=creator)  # while no worker holds it

            await until(lambda: client.worker_holds(account_id, "w2"), timeout=30, what="the account dealt to w2")
            await until(lambda: client.confirmed(second_reply), timeout=60,
                        what="the second reply confirmed (found, not sent again)")
            await until(lambda: _has(client, account_id, "还有货吗？ #3"), timeout=30, what="the comment w2 picked up")
            texts = await client.texts(account_id)
    finally:
        await first.stop()
        await second.stop()
        await master.stop()
    for text in ("这个多少钱？How much? #1", "Do you ship to Shanghai? 🚚 #1", "还有货吗？ #3"):
        assert texts.count(text) == 1, (text, texts)
    assert await site_copies(control, creator, "包邮，今天发货 #1") == 1
    assert await site_copies(control, creator, "Yes, we ship to Shanghai #2") == 1


async def _has(client: MasterClient, account_id: str, *texts: str) -> bool:
    stored = await client.texts(account_id)
    return all(t in stored for t in texts)
