"""Every IM query reads through an index (SQLite's plan), so lists stay fast at a million
messages; bench/datastore.py measures the actual times at that size."""
import re

import pytest
from sqlalchemy import event

from app.engine.im.types import TopicRef

from .helpers import comment, content, dm

# A full pass over a message or topic table (or one of its indexes). The one exception: the
# partial index of the topics with unread messages, which the all-accounts totals read whole.
FULL_SCAN = re.compile(
    r"^SCAN (comments|direct_messages|contents|conversations)\b(?! USING COVERING INDEX ix_\w+_unread$)")


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{(tmp_path / 'plans.db').as_posix()}"


async def test_view_queries_use_indexes(db, views, accounts, feed):
    await accounts("acc-a")
    await feed("acc-a", contents=[content("v0")],
               comments=[comment(f"c{i}", f"v{i % 3}", "退款流程太慢了", i, parent="c0") for i in range(30)],
               messages=[dm(f"m{i}", f"p{i % 3}", "hello there", i) for i in range(30)])
    work = TopicRef("acc-a", "content", "v1")
    statements = []

    def record(conn, cursor, statement, params, context, executemany):
        statements.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", record)
    first = await views.topics("acc-a", limit=2)
    await views.topics("acc-a", limit=2, cursor=first.after)
    await views.topics("acc-a", unread_only=True)
    await views.topics("acc-a", kind="conversation", cursor="-.1.99")
    await views.topic(work)
    page = await views.messages(work, limit=3)
    await views.messages(work, before=page.before, limit=3)
    await views.messages(work, after=page.before, limit=3)
    await views.messages(TopicRef("acc-a", "conversation", "p1"))
    await views.unread_totals()
    await views.unread_totals("acc-a")
    await views.search("退款流程")
    await views.search("hello", account_id="acc-a")
    await views.mark_read(work, ["c1"])
    await views.mark_unread(work, "c1")
    await views.mark_read(work)
    await views.mark_channel_read("acc-a")
    event.remove(db.engine, "before_cursor_execute", record)

    checked = 0
    with db.engine.connect() as connection:
        for statement, params in statements:
            if not statement.lstrip().upper().startswith(("SELECT", "UPDATE")):
                continue
            plan = [row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
            scans = [line for line in plan if FULL_SCAN.match(line)]
            assert not scans, f"{statement}\n{plan}"
            checked += 1
    assert checked >= 20
