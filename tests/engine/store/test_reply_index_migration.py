"""Migration 0010 (the reply_id indexes hold only linked rows) on a database that already
holds replies: a placeholder queued before the upgrade is still claimed by the crawl after
it, the lookups by reply_id read the index, and the way back works too."""
from sqlalchemy import bindparam, text

from app.engine.bus import EventBus
from app.engine.records import Batch
from app.engine.store.datastore import DataStore
from app.engine.store.db import Database
from app.engine.store.models import Account
from store_helpers import ACCOUNT, comment, comments, migrate
from test_reply_confirmation import queue_reply, reply_row

INDEXES = ("ix_comments_reply_id", "ix_direct_messages_reply_id")


def index_definitions(session, dialect: str) -> list[str]:
    if dialect == "sqlite":
        sql = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name IN :names ORDER BY name"
    else:
        sql = "SELECT indexdef FROM pg_indexes WHERE indexname IN :names ORDER BY indexname"
    return list(session.execute(text(sql).bindparams(bindparam("names", expanding=True)),
                                {"names": list(INDEXES)}).scalars())


async def test_a_reply_queued_before_the_upgrade_is_claimed_after_it(db_url):
    db = Database(db_url)
    try:
        # The rows are written with today's models, then the schema goes back to 0009 with them.
        await db.upgrade()
        await db.write(lambda s: s.add(Account(id=ACCOUNT, platform="sandbox", display_name="Shop")))
        store = DataStore(db, EventBus())
        await store.ingest(Batch(ACCOUNT, comments=[comment("c1"), comment("c2")]))
        reply_id = await queue_reply(db, platform_reply_id="r-777")
        migrate(db, "downgrade", "0009_reply_wait_code")

        migrate(db, "upgrade", "head")
        definitions = await db.read(index_definitions, db.dialect)
        assert len(definitions) == 2 and all("reply_id IS NOT NULL" in d for d in definitions), definitions
        if db.dialect == "sqlite":  # a lookup by reply_id reads the (partial) index
            plan = await db.read(lambda s: [row[-1] for row in s.execute(text(
                "EXPLAIN QUERY PLAN SELECT platform_comment_id FROM comments "
                "WHERE account_id = :a AND reply_id = :r"), {"a": ACCOUNT, "r": reply_id})])
            assert any("ix_comments_reply_id" in line for line in plan), plan
        await store.ingest(Batch(ACCOUNT, comments=[
            comment("r-777", t=5, text="thank you!", parent_platform_comment_id="c1", author_name="Shop")]))
        stored = await comments(db)
        assert set(stored) == {"c1", "c2", "r-777"}  # the placeholder became the copy: no duplicate
        assert stored["r-777"].reply_id == reply_id
        assert (await reply_row(db, reply_id)).status == "confirmed"

        migrate(db, "downgrade", "0009_reply_wait_code")
        assert not any("WHERE" in d.upper() for d in await db.read(index_definitions, db.dialect))
        migrate(db, "upgrade", "head")
        found = await db.read(lambda s: s.execute(text(
            "SELECT platform_comment_id FROM comments WHERE reply_id = :r"), {"r": reply_id}).scalars().all())
        assert found == ["r-777"]
    finally:
        await db.close()
