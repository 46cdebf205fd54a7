"""A second, real WorkerPool holds an account as a remote worker would: the account moves to
it, its traffic is crawled there and the outbox's reply goes out through its page (the
router sends each call to the account's holder, app/engine/holders.py)."""
import contextlib

import pytest

from app.engine.im.types import TopicRef
from app.engine.pool import WorkerPool

from tests.engine.pool.harness import make_rig

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@contextlib.asynccontextmanager
async def second_pool(engine):
    """A second WorkerPool on the engine's services, registered as holder "worker-2"."""
    second = WorkerPool(engine.settings, engine.paths, engine.platforms, engine.accounts, engine.store,
                        engine.bus, call_timeout_s=20.0, holder_id="worker-2")
    await second.start()
    try:
        engine.holders.register(second)
        yield second
    finally:
        await second.stop()


async def test_an_account_assigned_to_a_second_pool_is_served_and_replied_to_there(tmp_path):
    async with make_rig(tmp_path) as rig:
        engine = rig.engine
        async with second_pool(engine) as second:
            account_id = await rig.login("creator-h")
            await rig.until(lambda: rig.pool.status().account(account_id), what="the local pool monitoring it")

            await engine.holders.assign(account_id, "worker-2")
            await rig.until(lambda: second.status().account(account_id) and not rig.pool.status().account(account_id),
                            what="the account moved to the second pool")
            assert await engine.holders.holder_of(account_id) is second

            injected = await rig.control.inject_dm("Mei", "Does it come in red?", creator="creator-h")
            await rig.until(lambda: _has(rig.texts(account_id), "Does it come in red?"), what="the DM crawled")
            ref = TopicRef(account_id, "conversation", injected["conversation_id"])
            reply_id = await engine.outbox.reply(ref, "Yes, red is in stock")
            await rig.until(lambda: _confirmed(engine.outbox, reply_id), timeout=40, what="the reply confirmed")
            [conversation] = [c for c in await rig.control.conversations("creator-h")
                              if c["conversation_id"] == injected["conversation_id"]]
            texts = [m["content"]["text"] for m in conversation["messages"]]
            assert texts.count("Yes, red is in stock") == 1
            assert second.status().browser_launches >= 1  # its own browser sent it
            assert rig.pool.status().account(account_id) is None


async def _has(texts, text):
    return text in await texts


async def _confirmed(outbox, reply_id):
    row = await outbox.get(reply_id)
    return row if row is not None and row.status == "confirmed" else None


async def test_an_account_bound_to_a_second_pool_logs_in_there(tmp_path):
    async with make_rig(tmp_path) as rig:
        engine = rig.engine
        async with second_pool(engine) as second:
            account_id = await rig.accounts.create("sandbox", "creator-l")
            await engine.holders.assign(account_id, "worker-2")
            await rig.login("creator-l", account_id)  # the LoginManager, through the holders
            assert second.status().browser_launches == 1 and rig.pool.status().browser_launches == 0
            await rig.until(lambda: second.status().account(account_id), what="the second pool monitoring it")
            assert rig.pool.status().account(account_id) is None
