"""Properties of the merge, checked with generated crawls (hypothesis):

- ingesting the same batch twice changes nothing;
- a re-crawl after marking messages read keeps them read;
- the order in which batches arrive does not change the final state;
- the counters always equal a recount of the messages.

Every example ingests into a fresh account of the test's database, so examples stay apart.
"""
import random
import uuid
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from app.engine.im.types import TopicRef
from app.engine.records import Batch
from app.engine.store.counters import refresh_accounts, refresh_topics
from app.engine.store.models import Account, Comment, Content, Conversation, DirectMessage
from store_helpers import T0

SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
OPTIONAL = ("author_name", "author_avatar", "sender_name", "sender_avatar", "like_count",
            "parent_platform_comment_id", "direction", "title", "peer_name", "stats")

texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)


@st.composite
def crawls(draw):
    """A pool of records (each key with one true version, sometimes seen partially) cut into
    batches, as a platform shows them over several crawls."""
    records = []
    for i in range(draw(st.integers(0, 12))):
        records.append(("comments", dict(
            platform_comment_id=f"c{i}", platform_content_id=f"v{draw(st.integers(0, 2))}",
            parent_platform_comment_id=draw(st.sampled_from([None, "c0", "gone"])),
            author_name=draw(texts), author_avatar=draw(st.sampled_from([None, "a.png"])),
            text=draw(texts), created_at=T0 + 2 * i,  # even: no ties with DMs
            direction=draw(st.sampled_from(["in", "in", "out"])),
            like_count=draw(st.integers(0, 5)))))
    for i in range(draw(st.integers(0, 12))):
        records.append(("messages", dict(
            platform_message_id=f"m{i}", platform_conversation_id=f"p{draw(st.integers(0, 2))}",
            sender_name=draw(texts), text=draw(texts), created_at=(T0 + 2 * i + 1) * 1000,
            direction=draw(st.sampled_from(["in", "in", "out"])),
            is_recalled=draw(st.booleans()))))
    for i in draw(st.lists(st.integers(0, 2), unique=True)):
        records.append(("contents", dict(platform_content_id=f"v{i}", title=draw(texts),
                                         stats={"viewCount": draw(st.integers(0, 9))})))
    for i in draw(st.lists(st.integers(0, 2), unique=True)):
        records.append(("conversations", dict(platform_conversation_id=f"p{i}",
                                              peer_name=draw(texts))))
    seen = []
    for kind, record in records:
        seen.append((kind, record))
        if draw(st.booleans()):
            # Also seen without its optional fields (a push, a list page), before or after;
            # such a page may not know that a message is ours and say "in".
            partial = {k: v for k, v in record.items() if k not in OPTIONAL}
            if kind in ("comments", "messages") and draw(st.booleans()):
                partial["direction"] = "in"
            seen.insert(len(seen) - draw(st.integers(0, 1)), (kind, partial))
    cuts = draw(st.lists(st.integers(0, len(seen)), max_size=6))
    bounds = sorted({0, len(seen), *cuts})
    return [seen[a:b] for a, b in zip(bounds, bounds[1:])]


def batch(account_id, records):
    lists = defaultdict(list)
    for kind, record in records:
        lists[kind].append(record)
    return Batch(account_id, **lists)


async def new_account(db):
    account_id = f"acc-{uuid.uuid4()}"
    await db.write(lambda s: s.add(Account(id=account_id, platform="sandbox", display_name="P")))
    return account_id


async def ingest_all(store, account_id, batches):
    for records in batches:
        await store.ingest(batch(account_id, records))


async def state(db, account_id):
    """Everything a user can see of the account (row ids and first-seen times aside)."""

    def read(session):
        def rows(model, key, columns):
            query = select(model).where(model.account_id == account_id)
            return {getattr(r, key): tuple(getattr(r, c) for c in columns)
                    for r in session.scalars(query)}

        counters = ("message_count", "unread_count", "last_message_at", "last_message_preview")
        account = session.get(Account, account_id)
        return {
            "comments": rows(Comment, "platform_comment_id", (
                "platform_content_id", "parent_platform_comment_id", "author_name",
                "author_avatar", "text", "created_at", "direction", "is_read", "like_count")),
            "messages": rows(DirectMessage, "platform_message_id", (
                "platform_conversation_id", "sender_name", "text", "created_at", "direction",
                "is_read", "is_recalled")),
            "contents": rows(Content, "platform_content_id",
                             ("title", "stats", "last_message_from") + counters),
            "conversations": rows(Conversation, "platform_conversation_id",
                                  ("peer_name", "last_message_from") + counters),
            "account": tuple(getattr(account, c) for c in counters),
        }

    return await db.read(read)


def assert_counters_match_a_recount(snapshot):
    for topics, messages in (("contents", "comments"), ("conversations", "messages")):
        by_topic = defaultdict(list)
        for row in snapshot[messages].values():
            by_topic[row[0]].append(row)
        assert set(by_topic) <= set(snapshot[topics])  # every message has its topic row
        for topic_id, topic in snapshot[topics].items():
            rows = by_topic[topic_id]
            direction, is_read = (6, 7) if messages == "comments" else (4, 5)
            text, created = (4, 5) if messages == "comments" else (2, 3)
            message_count, unread_count, last_at, preview = topic[-4:]
            assert message_count == len(rows)
            assert unread_count == sum(1 for r in rows if r[direction] == "in" and not r[is_read])
            newest = max(rows, key=lambda r: r[created], default=None)
            assert last_at == (newest[created] if newest else None)
            assert preview == (newest[text][:120] if newest else None)
    totals = [0, 0]
    for topics in ("contents", "conversations"):
        for topic in snapshot[topics].values():
            totals[0] += topic[-4]
            totals[1] += topic[-3]
    assert list(snapshot["account"][:2]) == totals


@SETTINGS
@given(batches=crawls())
async def test_ingesting_a_batch_twice_changes_nothing(store, db, batches):
    account_id = await new_account(db)
    await ingest_all(store, account_id, batches)
    before = await state(db, account_id)
    for records in batches:
        result = await store.ingest(batch(account_id, records))
        assert result.added_message_ids == [] and result.updated_message_ids == []
    assert await state(db, account_id) == before
    assert_counters_match_a_recount(before)


@SETTINGS
@given(batches=crawls(), seed=st.integers(0, 2**16))
async def test_a_recrawl_after_mark_read_keeps_messages_read(store, db, batches, seed):
    account_id = await new_account(db)
    await ingest_all(store, account_id, batches)
    chosen = random.Random(seed)

    def mark_some_read(session):
        refs = set()
        for model, key, topic_kind, topic_key in (
            (Comment, "platform_comment_id", "content", "platform_content_id"),
            (DirectMessage, "platform_message_id", "conversation", "platform_conversation_id"),
        ):
            rows = list(session.scalars(select(model).where(model.account_id == account_id)))
            picked = [r for r in rows if chosen.random() < 0.5]
            for row in picked:
                row.is_read = True
                refs.add(TopicRef(account_id, topic_kind, getattr(row, topic_key)))
        session.flush()
        refresh_topics(session, refs)
        refresh_accounts(session, [account_id])

    await db.write(mark_some_read)
    before = await state(db, account_id)
    await ingest_all(store, account_id, batches)
    after = await state(db, account_id)
    assert after == before
    assert_counters_match_a_recount(after)


@SETTINGS
@given(batches=crawls(), seed=st.integers(0, 2**16))
async def test_the_order_of_batches_does_not_change_the_result(store, db, batches, seed):
    shuffled = list(batches)
    random.Random(seed).shuffle(shuffled)
    results = []
    for order in (batches, batches[::-1], shuffled):  # reversed: every pair of batches swapped
        account_id = await new_account(db)
        await ingest_all(store, account_id, order)
        results.append(await state(db, account_id))
    assert results[0] == results[1] == results[2]
    assert_counters_match_a_recount(results[0])


async def test_counters_survive_a_manual_mess(store, db):
    """Counters are recomputed, not incremented: a wrong value is repaired by the next refresh."""
    account_id = await new_account(db)
    await store.ingest(batch(account_id, [("comments", dict(
        platform_comment_id="c1", platform_content_id="v1", text="hi", created_at=T0))]))
    await db.write(lambda s: s.execute(update(Content).values(message_count=99, unread_count=-3)))
    await db.write(lambda s: refresh_topics(s, [TopicRef(account_id, "content", "v1")]))
    await db.write(lambda s: refresh_accounts(s, [account_id]))
    assert_counters_match_a_recount(await state(db, account_id))
