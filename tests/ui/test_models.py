"""The channel, topic and message models against a real engine: paging, live updates that
touch only the rows that changed, and jumping deep into a long history."""
from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import QPersistentModelIndex

from app.engine.events import MessagesAdded
from app.engine.im.added import NewMessages
from app.engine.im.types import UnreadTotals
from app.ui.models import ChannelsModel, MessagesModel, ObjectRole, TopicsModel
from app.ui.models.messages import FIRST_PAGE, MAX_ROWS, OLDER_PAGE
from app.ui.models.topics import PAGE_SIZE

from .conftest import T0, cancel_when_possible, comments, ingest, run, video_ref, wait_until


def test_channels_sorted_by_activity_with_unread_badges_and_live_reorder(engine, qloop, bridge):
    quiet = run(qloop, engine.accounts.create("sandbox", "Quiet shop"))
    busy = run(qloop, engine.accounts.create("sandbox", "Busy shop"))
    ingest(qloop, engine, quiet, comments=comments("v1", 2))
    ingest(qloop, engine, busy, comments=comments("v9", 5, at=T0 + timedelta(hours=1)))
    model = ChannelsModel(engine.views, bridge, bridge)
    model.reload()
    wait_until(qloop, lambda: model.rowCount() == 2)
    assert [c.name for c in model.items()] == ["Busy shop", "Quiet shop"]
    assert [c.unread_count for c in model.items()] == [5, 2]
    assert model.unread_total() == 7

    # A new message on the quiet shop moves it to the top; a persistent index (what a
    # view's selection holds) follows its row instead of being reset.
    persistent = QPersistentModelIndex(model.index(1, 0))
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    ingest(qloop, engine, quiet, comments=comments("v1", 1, start=50, at=T0 + timedelta(hours=2)))
    wait_until(qloop, lambda: model.item(0).name == "Quiet shop")
    assert model.item(0).unread_count == 3
    assert persistent.data(ObjectRole).name == "Quiet shop"
    assert resets == []


def test_topics_page_on_demand_filter_and_move_to_top_live(engine, qloop, account, bridge):
    videos = [{"platform_content_id": f"v{i}", "title": f"Video {i}"} for i in range(PAGE_SIZE + 30)]
    records = []
    for i in range(PAGE_SIZE + 30):
        records += comments(f"v{i}", 1, prefix=f"c{i}-", at=T0 + timedelta(minutes=i))
    ingest(qloop, engine, account, contents=videos, comments=records)
    ingest(qloop, engine, account,
           conversations=[{"platform_conversation_id": "d1", "peer_name": "Alice"}],
           messages=[{"platform_message_id": "m1", "platform_conversation_id": "d1",
                      "sender_name": "Alice", "text": "hello", "created_at": T0}])
    model = TopicsModel(engine.views, bridge, account, parent=bridge)
    assert model.canFetchMore()
    model.fetchMore()
    wait_until(qloop, lambda: model.rowCount() == PAGE_SIZE)
    assert model.item(0).title == f"Video {PAGE_SIZE + 29}"  # newest activity first
    model.fetchMore()
    wait_until(qloop, lambda: not model.canFetchMore() and not model.is_fetching)
    assert model.rowCount() == PAGE_SIZE + 31

    # New activity on an old work moves it to the top without a reset.
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    ingest(qloop, engine, account, comments=comments("v3", 1, prefix="late", at=T0 + timedelta(days=1)))
    wait_until(qloop, lambda: model.item(0).title == "Video 3")
    assert model.item(0).unread_count == 2
    assert resets == []

    dms = TopicsModel(engine.views, bridge, account, "conversation", bridge)
    dms.fetchMore()
    wait_until(qloop, lambda: dms.rowCount() == 1)
    assert dms.item(0).is_private and dms.item(0).title == "Alice"


def test_unread_filter_keeps_the_open_topic_after_it_is_read(engine, qloop, account, bridge):
    ingest(qloop, engine, account, comments=comments("v1", 2) + comments("v2", 2, prefix="x"))
    model = TopicsModel(engine.views, bridge, account, "unread", bridge)
    model.fetchMore()
    wait_until(qloop, lambda: model.rowCount() == 2)
    opened = model.topic(video_ref(account, "v1"))
    model.pin(opened)
    run(qloop, engine.views.mark_read(video_ref(account, "v1")))
    wait_until(qloop, lambda: model.topic(video_ref(account, "v1")).unread_count == 0)
    assert model.rowCount() == 2  # still listed while the operator reads it
    model.pin(None)
    run(qloop, engine.views.mark_read(video_ref(account, "v2")))
    wait_until(qloop, lambda: model.rowCount() == 0)


def test_messages_open_at_the_newest_page_and_prepend_older_pages(engine, qloop, account, bridge):
    ingest(qloop, engine, account, comments=comments("v1", 300))
    model = MessagesModel(engine.views, bridge, video_ref(account), bridge)
    model.load_newest()
    wait_until(qloop, lambda: model.rowCount() == FIRST_PAGE)
    assert model.item(FIRST_PAGE - 1).text == "comment 299"  # newest at the bottom
    assert model.item(0).text == f"comment {300 - FIRST_PAGE}"
    assert model.has_older and model.at_newest and not model.canFetchMore()

    prepended: list[int] = []
    model.older_loaded.connect(prepended.append)
    assert model.fetch_older()
    wait_until(qloop, lambda: prepended)
    assert prepended == [OLDER_PAGE]
    assert model.rowCount() == FIRST_PAGE + OLDER_PAGE
    assert model.item(0).text == f"comment {300 - FIRST_PAGE - OLDER_PAGE}"
    texts = [model.item(r).text for r in range(model.rowCount())]
    assert texts == [f"comment {i}" for i in range(150, 300)]  # in order, no gap, no twin
    assert model.row_of("c299") == model.rowCount() - 1


def test_new_messages_are_appended_live_without_reloading(engine, qloop, account, bridge):
    ingest(qloop, engine, account, comments=comments("v1", 10))
    model = MessagesModel(engine.views, bridge, video_ref(account), bridge)
    model.load_newest()
    wait_until(qloop, lambda: model.rowCount() == 10)
    resets: list[int] = []
    inserted: list[tuple[int, int]] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))
    ingest(qloop, engine, account, comments=comments("v1", 3, start=10))
    ingest(qloop, engine, account, comments=comments("v2", 3, prefix="other"))  # another topic
    wait_until(qloop, lambda: model.rowCount() == 13)
    # One more comment, after the burst: once it is in, everything the burst caused is too.
    ingest(qloop, engine, account, comments=comments("v1", 1, start=13))
    wait_until(qloop, lambda: model.rowCount() == 14)
    assert resets == []
    assert inserted == [(10, 12), (13, 13)]  # one insert for the burst, at the end
    assert [model.item(r).text for r in (10, 11, 12)] == ["comment 10", "comment 11", "comment 12"]


def test_a_burst_of_events_reaches_the_model_as_one_emission(engine, qloop, account, bridge):
    received: list[list[MessagesAdded]] = []
    bridge.messages_added.connect(received.append)
    (channel,) = run(qloop, engine.views.channels())
    event = MessagesAdded(account, NewMessages([], frozenset()), (), channel, UnreadTotals(0, 0))
    for i in range(20):
        engine.bus.publish(event)
    wait_until(qloop, lambda: received)
    engine.bus.publish(event)  # after the burst
    wait_until(qloop, lambda: len(received) == 2)
    assert [len(emission) for emission in received] == [20, 1]


def test_reply_placeholder_then_status_change_updates_only_its_row(engine, qloop, account, bridge):
    ingest(qloop, engine, account, comments=comments("v1", 5))
    model = MessagesModel(engine.views, bridge, video_ref(account), bridge)
    model.load_newest()
    wait_until(qloop, lambda: model.rowCount() == 5)
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b: changed.append((a.row(), b.row())))

    reply_id = run(qloop, engine.outbox.reply(video_ref(account), "thanks!", reply_to="c2"))
    wait_until(qloop, lambda: model.row_of_reply(reply_id) is not None)
    row = model.row_of_reply(reply_id)
    placeholder = model.item(row)
    assert placeholder.text == "thanks!" and placeholder.direction == "out"
    assert placeholder.id == f"local:{reply_id}"
    # Without browsers the send cannot happen: the reply moves on from queued (sending,
    # then queued again for a retry), each step one row's dataChanged.
    wait_until(qloop, lambda: changed)
    assert all(a == b == model.row_of_reply(reply_id) for a, b in changed)
    assert model.rowCount() == 6  # the placeholder, never a duplicate

    cancel_when_possible(qloop, engine, reply_id)
    wait_until(qloop, lambda: model.item(model.row_of_reply(reply_id)).reply_status == "cancelled")
    assert model.item(model.row_of_reply(reply_id)).text == "thanks!"


def test_jump_deep_into_history_then_page_towards_the_newest(engine, qloop, account, bridge):
    ingest(qloop, engine, account, comments=comments("v1", 400))  # hit 37 is in no first page
    model = MessagesModel(engine.views, bridge, video_ref(account), bridge)
    target = run(qloop, engine.views.search("comment 37", limit=50)).items
    hit = next(h for h in target if h.message.text == "comment 37")
    model.load_around(hit.message)
    wait_until(qloop, lambda: model.rowCount() > 0)
    assert model.item(model.rowCount() - 1).id == "c37"  # the page ends with the hit
    assert model.row_of("c37") is not None
    assert not model.at_newest and model.canFetchMore()
    while model.canFetchMore():
        model.fetchMore()
        wait_until(qloop, lambda: not model.is_fetching)
    assert model.at_newest
    assert model.item(model.rowCount() - 1).id == "c399"
    assert [model.item(r).id for r in range(model.rowCount())] == [f"c{i}" for i in range(400)]


def test_a_long_scroll_back_keeps_a_bounded_window_and_pages_back_down(engine, qloop, account, bridge):
    total = MAX_ROWS + 3 * OLDER_PAGE
    ingest(qloop, engine, account, comments=comments("v1", total))
    model = MessagesModel(engine.views, bridge, video_ref(account), bridge)
    model.load_newest()
    wait_until(qloop, lambda: model.rowCount() == FIRST_PAGE)
    while model.has_older:  # the operator scrolls all the way up
        model.fetch_older()
        wait_until(qloop, lambda: not model.is_fetching)
        assert model.rowCount() <= MAX_ROWS
    assert model.item(0).id == "c0"
    assert not model.at_newest and model.canFetchMore()  # the newest rows were let go
    while model.canFetchMore():  # ... and back down again, the window bounded that way too
        model.fetchMore()
        wait_until(qloop, lambda: not model.is_fetching)
        assert model.rowCount() <= MAX_ROWS
    assert model.at_newest and model.has_older  # the oldest rows were let go in turn
    assert [model.item(r).id for r in range(model.rowCount())] == [f"c{i}" for i in range(total - MAX_ROWS, total)]
    while model.has_older:  # up once more: every dropped row comes back, none twice or missed
        model.fetch_older()
        wait_until(qloop, lambda: not model.is_fetching)
    ids = [model.item(r).id for r in range(model.rowCount())]
    assert ids == [f"c{i}" for i in range(len(ids))] and ids[0] == "c0"


def test_a_held_list_keeps_its_rows_in_place_until_released_and_fills_when_empty(qapp):
    from app.ui.models.keyed import KeyedListModel

    class Names(KeyedListModel[str]):
        def key_of(self, item):
            return item[0]

        def text_of(self, item):
            return item

    model = Names()
    waiting = []
    model.waiting_changed.connect(waiting.append)
    model.hold(True)
    model._sync(["a1", "b1", "c1"])  # nothing shown yet: the first list comes in at once
    assert model.items() == ["a1", "b1", "c1"]
    model._sync(["c2", "a1", "d1"])  # c moves up, d is new, b goes
    assert model.items() == ["a1", "b1", "c2"]  # only updated in place
    assert waiting[-1] == 2
    model.hold(False)
    assert model.items() == ["c2", "a1", "d1"] and waiting[-1] == 0


def test_a_model_deleted_while_its_page_is_fetched_logs_no_error(engine, qloop, account, bridge, caplog):
    """Switching topics quickly deletes a messages model whose first page is still being
    fetched: the page that comes back is dropped, not applied to the deleted model."""
    import shiboken6
    from PySide6.QtCore import QCoreApplication, QEvent

    from app.ui import bridge as bridge_module

    ingest(qloop, engine, account, comments=comments("v1", 5))
    model = MessagesModel(engine.views, bridge, video_ref(account))
    model.load_newest()
    model.deleteLater()
    QCoreApplication.sendPostedEvents(model, QEvent.Type.DeferredDelete.value)
    assert not shiboken6.isValid(model)
    wait_until(qloop, lambda: not bridge_module._tasks)  # the fetch came back
    assert not [r for r in caplog.records if r.levelno >= 40], [r.getMessage() for r in caplog.records]
