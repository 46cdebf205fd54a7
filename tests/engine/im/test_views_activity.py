"""ImViews.account_messages: an account's comments, replies and DMs in one timeline, newest
first, paged by keyset without losing or repeating a message (same times included)."""
from .helpers import at, comment, content, conversation, dm


async def _seed(accounts, feed):
    await accounts("acc-a", "acc-b")
    await feed("acc-a", contents=[content("v1", "作品"), content("v2")],
               comments=[comment("c1", "v1", "top", 1), comment("c2", "v1", "reply", 2, parent="c1"),
                         comment("c3", "v2", "other work", 3), comment("c4", "v1", "same minute", 4)],
               conversations=[conversation("d1", "Li")],
               messages=[dm("m1", "d1", "hi", 4), dm("m2", "d1", "there", 5)])
    await feed("acc-b", contents=[content("v1")], comments=[comment("x1", "v1", "not mine", 6)])


async def test_one_timeline_newest_first_paged_without_gaps(views, accounts, feed):
    await _seed(accounts, feed)
    seen, cursor = [], None
    while True:
        page = await views.account_messages("acc-a", limit=2, after=cursor)
        seen += [m.id for m in page.items]
        cursor = page.after
        if cursor is None:
            break
    # c4 and m1 share their minute: both are there once, in the kind order.
    assert seen == ["m2", "m1", "c4", "c3", "c2", "c1"]


async def test_filters_kind_topic_threads_parent_and_since(views, accounts, feed):
    await _seed(accounts, feed)

    async def ids(**options):
        return [m.id for m in (await views.account_messages("acc-a", **options)).items]

    assert await ids(kinds=("direct_message",)) == ["m2", "m1"]
    assert await ids(kinds=("comment",), topic_id="v1") == ["c4", "c2", "c1"]
    assert await ids(kinds=("comment",), threads="top") == ["c4", "c3", "c1"]
    assert await ids(kinds=("comment",), threads="replies") == ["c2"]
    assert await ids(kinds=("comment",), parent_id="c1") == ["c2"]
    assert await ids(since=at(4)) == ["m2", "m1", "c4"]
