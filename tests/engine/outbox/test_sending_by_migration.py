"""Migration 0011 (replies.sending_by) on a database holding a reply left `sending`: the way
down and up again keeps the reply, which then names no engine, so it is a crash's leftover
and the outbox checks the platform and sends it once (SQLite and PostgreSQL)."""
from __future__ import annotations

from sqlalchemy import inspect

from app.engine.bus import EventBus
from app.engine.outbox import Outbox
from app.engine.outbox_store import claim_next
from app.engine.store.db import Database
from app.engine.store.models import utcnow
from tests.engine.store.store_helpers import migrate

from .conftest import CONTENT_REF, FakePlatform, _seed, wait_for_status


def reply_columns(db: Database) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("replies")}


async def test_a_reply_left_sending_before_the_upgrade_is_checked_and_sent_once(db_url):
    db = Database(db_url)
    platform = FakePlatform()
    outbox = Outbox(db, EventBus(), platform, backoff_base_s=0.05, send_timeout_s=5)
    try:
        await db.upgrade()
        await db.write(_seed)
        reply_id = await outbox.reply(CONTENT_REF, "From before the upgrade")
        await db.write(claim_next, CONTENT_REF.account_id, utcnow(), "an-engine-of-the-old-version")
        migrate(db, "downgrade", "0010_partial_reply_index")
        assert "sending_by" not in reply_columns(db)
        migrate(db, "upgrade", "head")
        assert "sending_by" in reply_columns(db)
        row = await outbox.get(reply_id)
        assert (row.status, row.attempts) == ("sending", 1)

        await outbox.start()
        row = await wait_for_status(outbox, reply_id, "sent")
        assert platform.finds == 1 and platform.copies("From before the upgrade") == 1
        assert row.attempts == 2
    finally:
        await outbox.stop()
        await db.close()
