"""Migration 0006 (search key, one SQLite index over both kinds) on a database that already
holds messages: search finds them newest first afterwards, and the way back works too."""
from sqlalchemy import text

from app.engine.bus import EventBus
from app.engine.im.views import ImViews
from app.engine.records import Batch
from app.engine.store.datastore import DataStore
from app.engine.store.db import Database
from app.engine.store.models import Account

from tests.engine.im.helpers import comment, dm
from store_helpers import migrate


async def test_messages_stored_before_the_upgrade_are_found_newest_first(db_url):
    db = Database(db_url)
    try:
        await db.write(lambda s: None)  # open the engine
        # Stored with today's models (which later migrations' columns are part of), then
        # taken back to the schema before 0006 with the rows in it.
        migrate(db, "upgrade", "head")
        await db.write(lambda s: s.add(Account(id="acc-a", platform="sandbox", display_name="A")))
        await DataStore(db, EventBus()).ingest(Batch("acc-a", comments=[
            comment("c1", "v1", "物流太慢了", 1), comment("c2", "v1", "物流太慢", 3)],
            messages=[dm("m1", "p1", "物流太慢！退款", 2)]))
        migrate(db, "downgrade", "0005_record_aliases")

        migrate(db, "upgrade", "head")
        views = ImViews(db, EventBus())
        assert [h.message.id for h in (await views.search("物流太慢")).items] == ["c2", "m1", "c1"]
        assert [h.message.id for h in (await views.search("退款")).items] == ["m1"]
        if db.dialect == "sqlite":  # everything was indexed from the rows already there
            marks = await db.read(lambda s: s.execute(text("SELECT indexed_upto FROM search_index_state")).all())
            assert sorted(m[0] for m in marks) == [1, 2]
            await db.write(lambda s: s.execute(text(
                "INSERT INTO message_search(message_search, rank) VALUES ('integrity-check', 1)")))

        migrate(db, "downgrade", "0005_record_aliases")
        if db.dialect == "sqlite":  # 0002's index is back and agrees with the rows
            await db.write(lambda s: s.execute(text(
                "INSERT INTO comments_fts(comments_fts, rank) VALUES ('integrity-check', 1)")))
        migrate(db, "upgrade", "head")
        assert [h.message.id for h in (await views.search("物流太慢")).items] == ["c2", "m1", "c1"]
    finally:
        await db.close()
