"""Records under another of their ids (records.aliases): one row per thing, whichever of its
platform ids a batch uses (Douyin's encrypted and numeric ids)."""
from sqlalchemy import select

from app.engine.records import Batch
from app.engine.store.models import RecordAlias
from store_helpers import ACCOUNT, comment, comments, contents

ITEM = "@jFAKEitem0001/AAAA=="  # the work's encrypted id
V1 = "@jFAKEcmt0001/AAAA=="  # a comment's V1 id
V2 = "7410000000000000001"  # the same comment's V2 cid


async def aliases(db):
    rows = await db.read(lambda s: s.scalars(select(RecordAlias)).all())
    return {(r.kind, r.alias): (r.platform_id, r.system) for r in rows}


async def test_a_comment_seen_under_both_id_systems_is_one_row(store, db):
    await store.ingest(Batch(ACCOUNT, comments=[comment(V1, "w1", t=1, text="拍得真好[鼓掌]", like_count=1)]))
    # V2 sees it again and the adapter linked the two: it stays the row first stored
    result = await store.ingest(Batch(ACCOUNT, comments=[
        comment(V2, "w1", t=1, text="拍得真好[鼓掌]", like_count=5, aliases={"v1": V1})]))
    assert result.rejected == [] and result.added_message_ids == []
    stored = await comments(db)
    assert list(stored) == [V1] and stored[V1].like_count == 5
    assert (await aliases(db))[("comments", V2)] == (V1, "record_id")
    # later batches under either id update that row and add nothing
    await store.ingest(Batch(ACCOUNT, comments=[comment(V2, "w1", t=1, text="拍得真好[鼓掌]", like_count=7)]))
    await store.ingest(Batch(ACCOUNT, comments=[comment(V1, "w1", t=1, text="拍得真好[鼓掌]", like_count=7)]))
    stored = await comments(db)
    assert list(stored) == [V1] and stored[V1].like_count == 7


async def test_aliases_in_one_batch_merge_too(store, db):
    result = await store.ingest(Batch(ACCOUNT, comments=[
        comment(V1, "w1", t=1), comment(V2, "w1", t=1, aliases={"v1": V1})]))
    assert result.added_message_ids == [V1]
    assert list(await comments(db)) == [V1]


async def test_a_comment_under_the_works_encrypted_id_lands_in_that_work(store, db):
    await store.ingest(Batch(ACCOUNT, contents=[
        dict(platform_content_id="7400000000000000001", title="作品一", aliases={"item_id": ITEM})]))
    # the V1 comment list names the work only by its encrypted id; its reply by the V2 parent
    await store.ingest(Batch(ACCOUNT, comments=[
        comment(V2, "7400000000000000001", aliases={"v1": V1}),
        comment("@jFAKErpl0001", ITEM, t=2, parent_platform_comment_id=V1)]))
    assert list(await contents(db)) == ["7400000000000000001"]
    stored = await comments(db)
    assert {c.platform_content_id for c in stored.values()} == {"7400000000000000001"}
    assert stored["@jFAKErpl0001"].parent_platform_comment_id == V2
    assert (await aliases(db))[("contents", ITEM)] == ("7400000000000000001", "item_id")


async def test_an_alias_taken_by_another_row_is_not_moved(store, db):
    await store.ingest(Batch(ACCOUNT, comments=[comment("a", "w1"), comment("b", "w1", aliases={"v1": "x"})]))
    await store.ingest(Batch(ACCOUNT, comments=[comment("c", "w1", aliases={"v1": "x"})]))
    # "x" already belongs to "b": "c" joins "b", it does not take "x" away
    assert sorted(await comments(db)) == ["a", "b"]
    assert (await aliases(db))[("comments", "x")] == ("b", "v1")
