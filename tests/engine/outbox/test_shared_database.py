"""Two engines on one PostgreSQL database (two `hiscrm serve` homes): the one that starts
leaves the other's reply in flight alone, and takes it over only once the other is gone
(closed, or killed: PostgreSQL ends its session and with it its mark of life).

The platform is one FakePlatform both engines send to, slow enough that a look for the
reply in flight finds nothing: a second send would be a second copy."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text

from app.engine.bus import EventBus
from app.engine.events import MessageStatusChanged
from app.engine.outbox import Outbox
from app.engine.store.db import Database
from app.engine.store.engine_liveness import LOCK_NAMESPACE, EngineLiveness, lock_key

from .conftest import CONTENT_REF, FakePlatform, Recorder, _seed, wait_for_status

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[3]


class CountedLiveness(EngineLiveness):
    """The real liveness, counting its checks: how a test knows a sweep has looked."""

    checks = 0

    def alive(self, session, instance_ids):
        self.checks += 1
        return super().alive(session, instance_ids)


@pytest.fixture
async def two_databases(pg_url):
    a, b = Database(pg_url), Database(pg_url)
    await a.upgrade()
    await a.write(_seed)
    yield a, b
    await a.close()
    await b.close()


def _engine(db, platform, bus=None, **options):
    liveness = CountedLiveness(db)
    bus = bus or EventBus()
    box = Outbox(db, bus, platform, max_attempts=3, backoff_base_s=0.05, send_timeout_s=5,
                 poll_s=0.05, liveness=liveness, **options)
    return box, liveness


async def _until(predicate, timeout=10.0):
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_an_engine_that_starts_leaves_the_other_s_reply_in_flight_alone(two_databases):
    db_a, db_b = two_databases
    platform = FakePlatform()
    gate = asyncio.Event()
    platform.script = [gate.wait]  # A's send is at the platform, which has not stored it yet
    a, _ = _engine(db_a, platform)
    bus_b = EventBus()
    seen_by_b = Recorder(bus_b)
    b, b_liveness = _engine(db_b, platform, bus_b, sweep_s=0.05)
    try:
        await a.start()
        reply_id = await a.reply(CONTENT_REF, "Only once, please")
        await _until(lambda: platform.sends)
        await b.start()
        await _until(lambda: b_liveness.checks >= 3)  # B's start and two sweeps have looked
        assert (await b.get(reply_id)).status == "sending"
        assert not [e for e in seen_by_b.of(MessageStatusChanged) if e.reply_id == reply_id]
        gate.set()
        await wait_for_status(a, reply_id, "sent")
        assert platform.copies("Only once, please") == 1 and platform.finds == 0
    finally:
        gate.set()
        await a.stop()
        await b.stop()


async def test_the_reply_of_an_engine_that_stopped_mid_send_is_taken_over(two_databases):
    db_a, db_b = two_databases
    platform = FakePlatform()
    platform.script = [asyncio.Event().wait]  # A's send never answers
    a, _ = _engine(db_a, platform, stop_grace_s=0)
    bus_b = EventBus()
    seen_by_b = Recorder(bus_b)
    b, b_liveness = _engine(db_b, platform, bus_b, sweep_s=0.05)
    try:
        await a.start()
        reply_id = await a.reply(CONTENT_REF, "Left half-way")
        await _until(lambda: platform.sends)
        await b.start()
        await _until(lambda: b_liveness.checks >= 2)
        assert (await b.get(reply_id)).status == "sending"
        await a.stop()  # the send is cut short: the reply stays `sending`, A's session ends
        row = await wait_for_status(b, reply_id, "sent")
        shown = [e for e in seen_by_b.of(MessageStatusChanged) if e.reply_id == reply_id]
        assert shown[0].status == "queued" and shown[0].error_code == "interrupted"
        assert platform.finds == 1 and platform.copies("Left half-way") == 1
        assert row.attempts == 2
    finally:
        await a.stop()
        await b.stop()


# A process that takes the reply as the dispatcher does and then hangs mid-send.
_HANGING_SENDER = textwrap.dedent("""
    import asyncio, sys
    from app.engine.outbox_store import claim_next
    from app.engine.store.db import Database
    from app.engine.store.engine_liveness import LOCK_NAMESPACE, EngineLiveness, lock_key
    from app.engine.store.models import utcnow

    async def main(url, account_id):
        db = Database(url)
        liveness = EngineLiveness(db)
        await liveness.hold()
        claimed = await db.write(claim_next, account_id, utcnow(), liveness.instance_id)
        print(claimed[0].id, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""")


async def test_a_killed_engine_s_reply_is_requeued_by_the_sweep_of_a_live_one(two_databases, pg_url):
    db_a, db_b = two_databases
    platform = FakePlatform()
    b, b_liveness = _engine(db_b, platform, sweep_s=0.05)
    queued_by, _ = _engine(db_a, platform)  # queues only (not started)
    reply_id = await queued_by.reply(CONTENT_REF, "Sent by the one that died")
    child = subprocess.Popen([sys.executable, "-c", _HANGING_SENDER, pg_url, CONTENT_REF.account_id],
                             cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        taken = await asyncio.to_thread(child.stdout.readline)
        assert taken.strip() == reply_id
        await b.start()
        checks = b_liveness.checks
        await _until(lambda: b_liveness.checks >= checks + 2)
        assert (await b.get(reply_id)).status == "sending"  # the child lives: its reply stays
        child.kill()
        await asyncio.to_thread(child.wait)
        await wait_for_status(b, reply_id, "sent")
        assert platform.finds == 1 and platform.copies("Sent by the one that died") == 1
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
        await b.stop()


def _end_session_of(session, instance_id: str) -> bool:
    """End the PostgreSQL session that holds the engine's mark, as a server restart would."""
    return session.execute(text(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = :ns"
        " AND objid = :key"), {"ns": LOCK_NAMESPACE, "key": lock_key(instance_id)}).scalar()


async def test_an_engine_whose_mark_was_lost_takes_it_again_at_its_next_sweep(two_databases):
    db_a, db_b = two_databases
    a, a_liveness = _engine(db_a, FakePlatform(), sweep_s=0.05)
    try:
        await a.start()
        assert await db_b.write(_end_session_of, a_liveness.instance_id)
        checks = a_liveness.checks
        await _until(lambda: a_liveness.checks >= checks + 2)  # a whole sweep since
        engine_id = a_liveness.instance_id
        assert await db_b.read(a_liveness.alive, {engine_id}) == {engine_id}
    finally:
        await a.stop()
