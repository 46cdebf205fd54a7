"""PostgreSQL plans the IM views' queries from good estimates (migration 0003): the newest
page of a busy topic reads just that page from the topic-time index, however many topics and
accounts there are."""
import json

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from app.engine.im.messages import _page_statement
from app.engine.store.db import Database
from app.engine.store.models import Account

pytestmark = pytest.mark.postgres

ACCOUNTS, TOPICS, PER_TOPIC = 50, 4, 1000


async def test_the_newest_page_of_a_busy_topic_reads_only_that_page(pg_url):
    db = Database(pg_url)
    await db.upgrade()
    try:
        def fill(session):
            session.add_all(Account(id=f"acc-{a}", platform="sandbox", display_name=f"账号 {a}")
                            for a in range(ACCOUNTS))
            session.flush()
            # Topic ids carry their account, as real ones do: the columns are correlated.
            session.execute(text(f"""
                INSERT INTO comments (account_id, platform_comment_id, platform_content_id, text,
                                      created_at, detected_at, direction, is_read, like_count)
                SELECT 'acc-' || (n % {ACCOUNTS}), 'c' || n, (n % {ACCOUNTS}) || '-v' || (n % {TOPICS}),
                       'comment ' || n, 1700000000000 + n, 1700000000000 + n, 'in', false, 0
                FROM generate_series(1, {ACCOUNTS * TOPICS * PER_TOPIC}) AS n"""))

        await db.write(fill)

        def plan(session):
            session.execute(text("ANALYZE comments"))
            sql = str(_page_statement("content", "newest").compile(dialect=postgresql.dialect()))
            explain = session.connection().exec_driver_sql(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + sql, {"account_id": "acc-7", "topic_id": "7-v3", "limit": 51}
            ).scalar()
            return explain if isinstance(explain, list) else json.loads(explain)

        [root] = await db.read(plan)
    finally:
        await db.close()
    scans = list(_nodes(root["Plan"]))
    [topic_scan] = [n for n in scans if n.get("Relation Name") == "comments" and n.get("Alias") == "comments"]
    assert topic_scan["Node Type"] == "Index Scan" and topic_scan["Index Name"] == "ix_comments_topic_time"
    assert topic_scan["Scan Direction"] == "Backward" and topic_scan["Actual Rows"] == 51


def _nodes(node):
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)
