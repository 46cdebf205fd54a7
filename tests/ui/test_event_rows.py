"""One stored batch, no second query: the lists, the tray and the search index take the rows
that `MessagesAdded` carries (read in the storing transaction) and show what a query would."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import event, func, select

from app.engine.im.search_index import indexed_upto
from app.engine.store.models import Comment
from PySide6.QtWidgets import QWidget

from app.ui.models import ChannelsModel, MessagesModel, TopicsModel
from app.ui.models.messages import MAX_ROWS, OLDER_PAGE
from app.ui.tray import Tray

from .conftest import T0, comments, ingest, run, video_ref, wait_until


class ReadCounter:
    """Counts the database reads (ImViews queries) made while it is on."""

    def __init__(self, db) -> None:
        self.calls: list[str] = []
        self.on = False
        read = db.read

        async def counted(fn, *args):
            if self.on:
                self.calls.append(getattr(fn, "__name__", repr(fn)))
            return await read(fn, *args)

        db.read = counted


def test_a_batch_reaches_every_list_and_the_tray_without_a_query(engine, account, bridge, qloop, qtbot, language):
    language("en")
    other = run(qloop, engine.accounts.create("sandbox", "Shop B"))
    ingest(qloop, engine, other, comments=comments("w1", 1, at=T0 + timedelta(hours=1)))
    ingest(qloop, engine, account, comments=comments("v1", 3))
    ingest(qloop, engine, account, comments=comments("v2", 2, prefix="x", at=T0 + timedelta(minutes=30)))
    channels = ChannelsModel(engine.views, bridge, bridge)
    channels.reload()
    topics = TopicsModel(engine.views, bridge, account, parent=bridge)
    topics.fetchMore()
    chat = MessagesModel(engine.views, bridge, video_ref(account), bridge)
    chat.load_newest()
    window = QWidget()
    qtbot.addWidget(window)
    tray = Tray(engine, window)
    shown: list[tuple[str, str]] = []
    tray.notified.connect(lambda title, body: shown.append((title, body)))

    def idle() -> bool:
        models = (channels, topics, chat)
        return (not any(m.is_fetching for m in models) and not channels._refresh.isActive()
                and not topics._refresh.isActive() and not tray._count_timer.isActive() and not tray._counting)

    wait_until(qloop, lambda: channels.rowCount() == 2 and topics.rowCount() == 2 and chat.rowCount() == 3
               and tray.unread == 6 and idle())
    assert [c.name for c in channels.items()] == ["Shop B", "Shop A"]
    assert [t.ref.platform_id for t in topics.items()] == ["v2", "v1"]

    reads = ReadCounter(engine.db)
    reads.on = True
    ingest(qloop, engine, account, comments=comments("v1", 1, start=3, author="Ann", at=T0 + timedelta(hours=2)))
    wait_until(qloop, lambda: chat.rowCount() == 4 and shown and tray.unread == 7)
    wait_until(qloop, lambda: [t.ref.platform_id for t in topics.items()] == ["v1", "v2"])
    wait_until(qloop, lambda: [c.name for c in channels.items()] == ["Shop A", "Shop B"])
    assert idle()  # nothing waits to query either
    assert reads.calls == []
    reads.on = False

    # What they show is what the views answer now.
    assert chat.items() == run(qloop, engine.views.messages(video_ref(account))).items
    assert topics.items() == run(qloop, engine.views.topics(account)).items
    assert channels.items() == run(qloop, engine.views.channels())
    assert topics.items()[0].last_message_preview == "comment 3" and topics.items()[0].unread_count == 4
    assert channels.items()[0].unread_count == 6
    assert shown == [("Shop A", "comment 3")]
    assert tray.icon.toolTip() == "HisCRM Console: 7 unread"
    tray.close()


def test_a_flood_in_the_open_topic_keeps_the_newest_rows(engine, account, bridge, qloop):
    ingest(qloop, engine, account, comments=comments("v1", 3))
    chat = MessagesModel(engine.views, bridge, video_ref(account), bridge)
    chat.load_newest()
    wait_until(qloop, lambda: chat.rowCount() == 3 and not chat.is_fetching)
    ingest(qloop, engine, account, comments=comments("v1", MAX_ROWS + 200, start=3))
    wait_until(qloop, lambda: chat.items() and chat.items()[-1].text == f"comment {MAX_ROWS + 202}")
    assert chat.rowCount() == MAX_ROWS
    assert chat.items()[0].text == "comment 203"
    assert chat.has_older  # the rest comes back as pages when scrolled to
    assert chat.fetch_older()
    # (the page before the first row's millisecond holds that row too: it is skipped by id)
    wait_until(qloop, lambda: chat.items()[0].text == f"comment {203 - OLDER_PAGE + 1}")
    texts = [m.text for m in chat.items()]
    assert len(texts) == len(set(texts)) == MAX_ROWS


def test_the_search_index_catches_up_through_the_rows_the_event_names(engine, account, qloop):
    statements: list[str] = []
    event.listen(engine.db.engine, "before_cursor_execute",
                 lambda conn, cursor, sql, *rest: statements.append(sql.lower()))
    ingest(qloop, engine, account, comments=comments("v1", 5))
    newest = run(qloop, engine.db.read(lambda s: s.scalar(select(func.max(Comment.id)))))
    statements.clear()

    async def indexed() -> None:
        while await engine.db.read(indexed_upto, "comments") != newest:
            await asyncio.sleep(0.05)

    run(qloop, indexed())
    assert any("insert into message_search" in sql for sql in statements)
    assert not [sql for sql in statements if "max(" in sql]  # it knew how far from the event
    hits = run(qloop, engine.views.search("comment 4"))
    assert [h.message.id for h in hits.items] == ["c4"]
