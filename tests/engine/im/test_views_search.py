"""Search: Chinese substrings and English words, newest first, with a plain-text snippet."""
import pytest
from sqlalchemy import delete, text

from app.engine.bus import EventBus
from app.engine.im.search import snippet
from app.engine.im.search_index import SearchIndexer
from app.engine.im.views import ImViews
from app.engine.records import Batch
from app.engine.store.datastore import DataStore
from app.engine.store.models import Account

from .helpers import comment, dm


def ids(page) -> list[str]:
    return [hit.message.id for hit in page.items]


@pytest.fixture
async def shop(accounts, feed):
    await accounts("acc-a", "acc-b")
    await feed(
        "acc-a",
        comments=[
            comment("c1", "v1", "请问什么时候发货？我想退款", 1),
            comment("c2", "v1", "Great video, where can I BUY it?", 2),
            comment("c3", "v2", "退款流程太慢了", 3),
            comment("c4", "v2", "打折 100% 真的吗", 4),
        ],
        messages=[dm("m1", "p1", "你好，我要申请退款", 5), dm("m2", "p1", 'He said "buy now"', 6)],
    )
    await feed("acc-b", messages=[dm("m1", "p9", "退款到账了吗", 7)])


async def test_finds_chinese_words_inside_sentences_newest_first(views, shop):
    hits = (await views.search("退款")).items

    assert [(h.message.topic.account_id, h.message.id) for h in hits] == [
        ("acc-b", "m1"), ("acc-a", "m1"), ("acc-a", "c3"), ("acc-a", "c1")]
    assert [h.message.kind for h in hits] == ["direct_message", "direct_message", "comment", "comment"]
    assert ids(await views.search("申请退款")) == ["m1"]  # long enough for the index
    assert ids(await views.search("退货")) == []


async def test_finds_english_words_ignoring_case_and_needs_every_word(views, shop):
    assert ids(await views.search("buy")) == ["m2", "c2"]
    assert ids(await views.search("BUY video")) == ["c2"]
    assert ids(await views.search("where 发货")) == []


async def test_search_within_one_account(views, shop):
    hits = (await views.search("退款", account_id="acc-b", limit=10)).items
    assert [(h.message.topic.account_id, h.message.text) for h in hits] == [("acc-b", "退款到账了吗")]


async def test_quotes_and_wildcards_are_searched_literally(views, shop):
    assert ids(await views.search("100%")) == ["c4"]
    assert ids(await views.search('"buy now"')) == ["m2"]
    assert ids(await views.search("%")) == ["c4"]
    assert ids(await views.search("_")) == []
    assert ids(await views.search("   ")) == []


async def test_snippet_is_plain_text_around_the_match():
    text = "开头" + "很长的铺垫。" * 30 + "这里提到了退款的事情" + "。后文" * 30
    piece = snippet(text, ["退款"])
    assert "退款" in piece and piece.startswith("…") and piece.endswith("…")
    assert len(piece) <= 82 and "\n" not in snippet("a\nb <b>退款</b>", ["退款"])
    assert snippet("a\nb <b>退款</b>", ["退款"]) == "a b <b>退款</b>"


async def test_search_is_complete_before_and_after_indexing_edits_and_deletions(db, accounts):
    """SQLite indexes new messages in bulk after each batch; search must not depend on when."""
    store = DataStore(db, EventBus())  # nobody indexes on this bus: the test decides when
    views = ImViews(db, EventBus())
    indexer = SearchIndexer(db, EventBus())
    await accounts("acc-a", "acc-b")

    async def found(word):
        return sorted((h.message.topic.account_id, h.message.id) for h in (await views.search(word)).items)

    await store.ingest(Batch("acc-a", comments=[comment("c1", "v1", "物流太慢了", 1), comment("c2", "v1", "好评", 2)]))
    assert await found("物流太慢") == [("acc-a", "c1")]  # not indexed yet
    await indexer.catch_up()
    assert await found("物流太慢") == [("acc-a", "c1")]

    await store.ingest(Batch("acc-a", comments=[comment("c1", "v1", "物流很快，谢谢", 1)]))  # edited
    assert await found("物流太慢") == [] and await found("物流很快") == [("acc-a", "c1")]

    # The newest rows go away with their account; SQLite then hands their ids out again.
    await store.ingest(Batch("acc-b", comments=[comment("b1", "v9", "物流太慢！", 3)]))
    await indexer.catch_up()
    await db.write(lambda s: s.execute(delete(Account).where(Account.id == "acc-b")))
    await store.ingest(Batch("acc-a", comments=[comment("c3", "v1", "还是物流太慢", 4)]))
    assert await found("物流太慢") == [("acc-a", "c3")]
    await indexer.catch_up()
    assert await found("物流太慢") == [("acc-a", "c3")]

    if db.dialect == "sqlite":  # the index agrees with the messages, row for row
        await db.write(lambda s: s.execute(text(
            "INSERT INTO message_search(message_search, rank) VALUES ('integrity-check', 1)")))
