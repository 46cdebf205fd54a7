"""The chat pane as an operator uses it: read a topic, reply with the keyboard, watch the
reply's status, retry or cancel it, and see platform text exactly as it was written."""
from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from app.engine.im.types import MessageCursor
from app.engine.records import MAX_TEXT_LEN
from app.ui.components.chat_pane import ChatPane
from app.ui.models.keyed import ObjectRole
from app.ui.models.messages import FIRST_PAGE, MAX_ROWS, OLDER_PAGE
from app.ui.views.bubble_delegate import status_text

from .conftest import T0, comments, dm_ref, ingest, run, settle, video_ref, wait_until


@pytest.fixture
def chat(engine, bridge, qtbot, qloop):
    pane = ChatPane(engine, bridge)
    qtbot.addWidget(pane)
    pane.resize(800, 600)
    pane.show()
    return pane


def open_video(qloop, engine, chat, account, video="v1"):
    topic = run(qloop, engine.views.topic(video_ref(account, video)))
    chat.open_topic(topic)
    wait_until(qloop, lambda: chat.model is not None and chat.model.rowCount() > 0)
    return topic


def row_message(chat, message_id):
    return chat.model.item(chat.model.row_of(message_id))


def reply_message(chat, reply_id):
    row = chat.model.row_of_reply(reply_id)
    return None if row is None else chat.model.item(row)


def click_link(qtbot, chat, reply_id, which):
    """Click the Retry/Cancel link painted under our reply, where the delegate drew it."""
    row = chat.model.row_of_reply(reply_id)
    index = chat.model.index(row, 0)
    chat.list.scrollTo(index)
    rect = chat.list.visualRect(index)
    geometry = chat.delegate.geometry(rect, chat.model.item(row), chat.list.font())
    link = geometry.retry if which == "retry" else geometry.cancel
    assert link is not None, f"no {which} link under the reply"
    qtbot.mouseClick(chat.list.viewport(), Qt.MouseButton.LeftButton, pos=link.center())


def type_reply(qtbot, chat, text):
    chat.reply_box.input.setFocus()
    qtbot.keyClicks(chat.reply_box.input, text)


def test_enter_sends_a_queued_placeholder_then_cancel_link_cancels_it(engine, qloop, qtbot, chat, account):
    ingest(qloop, engine, account, comments=comments("v1", 5))
    run(qloop, engine.outbox.stop())  # hold the queue: the reply stays queued
    open_video(qloop, engine, chat, account)
    type_reply(qtbot, chat, "Thanks, Bob!")
    qtbot.keyClick(chat.reply_box.input, Qt.Key.Key_Return)
    wait_until(qloop, lambda: chat.model.rowCount() == 6)
    placeholder = chat.model.item(5)
    assert placeholder.text == "Thanks, Bob!" and placeholder.direction == "out"
    assert placeholder.reply_status == "queued"
    assert status_text(placeholder).startswith("◷")
    assert chat.reply_box.text() == ""  # accepted by the outbox: the box is ready again
    assert chat.list.at_bottom()

    click_link(qtbot, chat, placeholder.reply_id, "cancel")
    wait_until(qloop, lambda: reply_message(chat, placeholder.reply_id).reply_status == "cancelled")
    row = run(qloop, engine.outbox.get(placeholder.reply_id))
    assert row.status == "cancelled"


def test_failed_reply_shows_reason_and_retry_link_requeues_it(engine, qloop, qtbot, chat, account):
    ingest(qloop, engine, account, comments=comments("v1", 3))
    engine.outbox.max_attempts = 1  # no browsers here: the first attempt fails for good
    open_video(qloop, engine, chat, account)
    type_reply(qtbot, chat, "hello")
    qtbot.keyClick(chat.reply_box.input, Qt.Key.Key_Enter)
    wait_until(qloop, lambda: chat.model.rowCount() == 4)
    reply_id = chat.model.item(3).reply_id
    wait_until(qloop, lambda: reply_message(chat, reply_id).reply_status == "failed")
    failed = reply_message(chat, reply_id)
    assert failed.reply_error
    assert status_text(failed) == "✗ Failed: the platform could not be reached"
    chat.list.viewport().grab()  # paints the failed footer with its links

    seen: list[str] = []
    chat.model.dataChanged.connect(lambda a, _b: seen.append(chat.model.item(a.row()).reply_status))
    click_link(qtbot, chat, reply_id, "retry")
    wait_until(qloop, lambda: "queued" in seen or "sending" in seen)
    wait_until(qloop, lambda: reply_message(chat, reply_id).reply_status == "failed")
    assert chat.model.rowCount() == 4  # the same row moved through the states
    menu = chat.build_menu(reply_message(chat, reply_id))
    assert {a.objectName() for a in menu.actions()} >= {"retry", "cancel"}


def test_selected_comment_is_the_reply_target_esc_clears_shift_enter_adds_a_line(
        engine, qloop, qtbot, chat, account):
    ingest(qloop, engine, account, comments=comments("v1", 5))
    run(qloop, engine.outbox.stop())
    open_video(qloop, engine, chat, account)
    chat.list.setCurrentIndex(chat.model.index_of("c3"))
    assert chat.reply_box.target.id == "c3"
    assert "Bob" in chat.reply_box.target_label.text() and chat.reply_box.target_label.isVisibleTo(chat)
    qtbot.keyClick(chat.reply_box.input, Qt.Key.Key_Escape)
    assert chat.reply_box.target is None and not chat.reply_box.target_label.isVisibleTo(chat)

    qtbot.mouseClick(chat.list.viewport(), Qt.MouseButton.LeftButton,
                     pos=chat.list.visualRect(chat.model.index_of("c3")).center())
    assert chat.reply_box.target.id == "c3"
    type_reply(qtbot, chat, "line one")
    qtbot.keyClick(chat.reply_box.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(chat.reply_box.input, "line two")
    assert chat.reply_box.text() == "line one\nline two"
    qtbot.keyClick(chat.reply_box.input, Qt.Key.Key_Return)
    wait_until(qloop, lambda: chat.model.rowCount() == 6)
    reply = run(qloop, engine.outbox.get(chat.model.item(5).reply_id))
    assert reply.text == "line one\nline two"
    assert reply.target_platform_id == "c3"


def test_a_refused_reply_keeps_the_text_and_says_why(engine, qloop, qtbot, chat, account):
    ingest(qloop, engine, account, comments=comments("v1", 2))
    open_video(qloop, engine, chat, account)
    too_long = "x" * (MAX_TEXT_LEN + 1)
    chat.reply_box.input.setPlainText(too_long)
    with qtbot.assertNotEmitted(chat.reply_box.send_requested):  # refused in the box, at once
        qtbot.keyClick(chat.reply_box.input, Qt.Key.Key_Return)
    assert chat.reply_box.text() == too_long
    assert chat.reply_box.error_label.isVisibleTo(chat) and "too long" in chat.reply_box.error_label.text()
    assert chat.model.rowCount() == 2 and run(qloop, engine.outbox.list()) == []


def test_a_blank_reply_is_not_sent(engine, qloop, qtbot, chat, account):
    ingest(qloop, engine, account, comments=comments("v1", 2))
    open_video(qloop, engine, chat, account)
    chat.reply_box.input.setPlainText("  \n\t ")
    with qtbot.assertNotEmitted(chat.reply_box.send_requested):
        qtbot.keyClick(chat.reply_box.input, Qt.Key.Key_Return)
    assert chat.model.rowCount() == 2 and run(qloop, engine.outbox.list()) == []


def test_a_reply_the_engine_refuses_keeps_the_text_says_why_and_queues_nothing(
        engine, qloop, qtbot, chat, account, monkeypatch, language):
    """A DM on a platform that cannot send direct messages: the outbox refuses it before it
    is queued (Outbox.refusal); the operator reads the reason under the box, the text stays."""
    monkeypatch.setattr(engine.platforms.get("sandbox"), "capabilities", frozenset({"comments", "qr_login"}))
    ingest(qloop, engine, account, conversations=[{"platform_conversation_id": "d1", "peer_name": "Dora"}],
           messages=[{"platform_message_id": "d1-0", "platform_conversation_id": "d1", "sender_id": "u-Dora",
                      "sender_name": "Dora", "text": "在吗？", "created_at": T0}])
    chat.open_topic(run(qloop, engine.views.topic(dm_ref(account))))
    wait_until(qloop, lambda: chat.model is not None and chat.model.rowCount() == 1)
    chat.reply_box.input.setPlainText("在的")  # (keyClicks types ASCII only)
    qtbot.keyClick(chat.reply_box.input, Qt.Key.Key_Return)
    wait_until(qloop, lambda: chat.reply_box.error_label.isVisibleTo(chat))
    assert chat.reply_box.error_label.text() == "This platform cannot send direct messages from here."
    assert chat.reply_box.text() == "在的"
    assert chat.model.rowCount() == 1 and run(qloop, engine.outbox.list()) == []
    language("zh_CN")  # the reason is the operator's language, not the engine's log sentence
    chat.reply_box.show_error(None)
    qtbot.keyClick(chat.reply_box.input, Qt.Key.Key_Return)
    wait_until(qloop, lambda: chat.reply_box.error_label.isVisibleTo(chat))
    assert chat.reply_box.error_label.text() == "此平台不支持在这里发送私信。"


def ink_columns(image: QImage, rect) -> tuple[int, int]:
    """Leftmost and rightmost x inside `rect` where something darker than the bubble is."""
    xs = [x for x in range(rect.left(), rect.right() + 1)
          if any(QColor(image.pixel(x, y)).lightness() < 120 for y in range(rect.top(), rect.bottom() + 1))]
    return (min(xs), max(xs)) if xs else (0, -1)


def test_platform_text_is_painted_as_plain_text_never_markup(engine, qloop, chat, account):
    markup = '<b>x</b><img src="http://example.invalid/a.png">'
    ingest(qloop, engine, account, comments=[{
        "platform_comment_id": "evil", "platform_content_id": "v1", "author_name": "<i>Mallory</i>",
        "text": markup, "created_at": T0}])
    open_video(qloop, engine, chat, account)
    index = chat.model.index_of("evil")
    message = chat.model.item(index.row())
    assert index.data(Qt.ItemDataRole.DisplayRole) == markup

    option = QStyleOptionViewItem()
    option.initFrom(chat.list)
    option.font = chat.list.font()
    size = chat.delegate.sizeHint(option, index)
    option.rect = chat.list.visualRect(index).translated(0, -chat.list.visualRect(index).top())
    option.rect.setHeight(size.height())
    image = QImage(size.width(), size.height(), QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    chat.delegate.paint(painter, option, index)
    painter.end()

    geometry = chat.delegate.geometry(option.rect, message, option.font)
    left, right = ink_columns(image, geometry.text)
    literal_width = QFontMetrics(option.font).horizontalAdvance(markup)
    # The characters themselves take this much room; a bold "x" and an image would not.
    assert right - left + 1 >= 0.8 * min(literal_width, geometry.text.width())
    assert QFontMetrics(option.font).horizontalAdvance("x") * 3 < literal_width


def test_long_cjk_and_emoji_text_wraps_within_the_view(engine, qloop, chat, account):
    long_text = "这是一条很长的中文评论，用来测试换行😀" * 60
    ingest(qloop, engine, account, comments=[{
        "platform_comment_id": "long", "platform_content_id": "v1", "author_name": "小明",
        "text": long_text, "created_at": T0}, *comments("v1", 1, at=T0 + timedelta(minutes=5))])
    open_video(qloop, engine, chat, account)
    rect = chat.list.visualRect(chat.model.index_of("long"))
    short = chat.list.visualRect(chat.model.index_of("c0"))
    line = QFontMetrics(chat.list.font()).lineSpacing()
    assert rect.height() > 10 * line > short.height()
    geometry = chat.delegate.geometry(rect, row_message(chat, "long"), chat.list.font())
    assert geometry.bubble.right() <= chat.list.viewport().width()


def test_viewing_marks_read_and_mark_unread_brings_one_back(engine, qloop, chat, account):
    ingest(qloop, engine, account, comments=comments("v1", 4))
    ref = video_ref(account)
    assert run(qloop, engine.views.topic(ref)).unread_count == 4
    open_video(qloop, engine, chat, account)
    wait_until(qloop, lambda: run_topic_unread(qloop, engine, ref) == 0)

    menu = chat.build_menu(row_message(chat, "c2"))
    next(a for a in menu.actions() if a.objectName() == "markUnread").trigger()
    wait_until(qloop, lambda: run_topic_unread(qloop, engine, ref) == 1)
    wait_until(qloop, lambda: not row_message(chat, "c2").is_read)  # the pane has heard of it
    assert not chat._mark_read_timer.isActive()  # and does not mark it read again behind the back
    assert run_topic_unread(qloop, engine, ref) == 1


def run_topic_unread(qloop, engine, ref):
    # Called from inside wait_until's loop: read the counter straight from the database.
    from sqlalchemy import text

    with engine.db.session() as session:
        return session.execute(
            text("select unread_count from contents where account_id = :a and platform_content_id = :c"),
            {"a": ref.account_id, "c": ref.platform_id}).scalar_one()


def test_scrolling_to_the_top_prepends_older_messages_in_place(engine, qloop, chat, account):
    ingest(qloop, engine, account, comments=comments("v1", 300))
    open_video(qloop, engine, chat, account)
    wait_until(qloop, lambda: chat.list.at_bottom())
    assert chat.model.rowCount() == FIRST_PAGE
    first_id = chat.model.item(0).id
    bar = chat.list.verticalScrollBar()
    bar.setValue(bar.minimum() + 1)
    top_before = chat.list.visualRect(chat.model.index_of(first_id)).top()
    bar.setValue(bar.minimum())
    wait_until(qloop, lambda: chat.model.rowCount() == FIRST_PAGE + OLDER_PAGE)
    settle(qloop, 0.1)
    top_after = chat.list.visualRect(chat.model.index_of(first_id)).top()
    assert abs(top_after - top_before) <= 2  # the message read stays where it was
    assert chat.model.item(0).text == f"comment {300 - FIRST_PAGE - OLDER_PAGE}"
    assert chat.list.indexAt(QPoint(5, 5)).row() > 0


def test_reaching_the_top_while_new_messages_load_still_brings_the_older_page(engine, qloop, chat, account):
    """Live traffic refreshes the newest page; an operator who reaches the top meanwhile used to
    wait there for ever (the older page was asked for while that query ran, and dropped)."""
    ingest(qloop, engine, account, comments=comments("v1", 300))
    open_video(qloop, engine, chat, account)
    wait_until(qloop, lambda: chat.list.at_bottom() and not chat.model.is_fetching)
    chat.model.refresh_newest()  # what a MessagesAdded event does: the newest page is merged...
    assert chat.model.is_fetching
    bar = chat.list.verticalScrollBar()
    bar.setValue(bar.minimum())  # ... and the operator reaches the top at that moment
    wait_until(qloop, lambda: chat.model.rowCount() == FIRST_PAGE + OLDER_PAGE)
    assert chat.model.item(0).text == f"comment {300 - FIRST_PAGE - OLDER_PAGE}"


def test_paging_down_after_a_jump_lets_the_oldest_rows_go_and_keeps_the_view_still(
        engine, qloop, chat, account):
    total = MAX_ROWS + 3 * OLDER_PAGE
    ingest(qloop, engine, account, comments=comments("v1", total))
    oldest = run(qloop, engine.views.messages(video_ref(account), after=MessageCursor(0, 0).encode(), limit=20))
    topic = run(qloop, engine.views.topic(video_ref(account)))
    chat.open_topic(topic, around=oldest.items[10])  # as a search hit deep in the history
    wait_until(qloop, lambda: chat.model is not None and chat.model.rowCount() > 0)
    model, bar = chat.model, chat.list.verticalScrollBar()

    def page_down():
        wait_until(qloop, lambda: not model.is_fetching)  # the view may have asked already
        if model.canFetchMore():
            model.fetchMore()
            wait_until(qloop, lambda: not model.is_fetching)
        settle(qloop, 0.05)

    while model.rowCount() < MAX_ROWS and not model.at_newest:
        page_down()
    while not model.at_newest:  # the operator reads on down towards the newest
        bar.setValue(bar.maximum() - 200)
        settle(qloop, 0.05)
        wait_until(qloop, lambda: not model.is_fetching)
        top = chat.list.indexAt(QPoint(5, 5))
        shown_id, shown_y = top.data(ObjectRole).id, chat.list.visualRect(top).top()
        page_down()  # the next page comes in and the oldest rows go
        assert model.rowCount() <= MAX_ROWS
        assert abs(chat.list.visualRect(model.index_of(shown_id)).top() - shown_y) <= 2
    assert model.at_newest and model.has_older
    assert model.item(model.rowCount() - 1).text == f"comment {total - 1}"


def test_an_uncertain_reply_says_so_and_its_menu_confirms_it_or_sends_it_again(engine, qloop, chat, account):
    from app.engine.events import MessageStatusChanged
    from app.engine.outbox_store import mark_unsent
    from app.engine.store.models import ReplyStatus, utcnow

    ingest(qloop, engine, account, comments=comments("v1", 3))
    run(qloop, engine.outbox.stop())  # hold the queue: "send again" leaves it queued
    open_video(qloop, engine, chat, account)
    ref = video_ref(account, "v1")
    replies = [run(qloop, engine.outbox.reply(ref, text)) for text in ("maybe sent", "maybe sent too")]
    for reply_id in replies:  # what the outbox does when the look on the platform cannot tell
        row = run(qloop, engine.db.write(mark_unsent, reply_id, ReplyStatus.UNCERTAIN, "uncertain",
                                         "the reply may be older; check there", None, utcnow()))
        engine.bus.publish(MessageStatusChanged(row.id, row.account_id, row.topic, row.message_id, row.status,
                                                error=row.error_message, attempts=row.attempts,
                                                error_code=row.error_code))
    wait_until(qloop, lambda: all(reply_message(chat, r).reply_status == "uncertain" for r in replies))
    shown = reply_message(chat, replies[0])
    assert status_text(shown).startswith("? Uncertain") and "check there" in status_text(shown)
    menu = chat.build_menu(shown)
    names = {a.objectName() for a in menu.actions()}
    assert {"confirmSent", "sendAgain", "cancel"} <= names and "retry" not in names

    next(a for a in menu.actions() if a.objectName() == "confirmSent").trigger()
    wait_until(qloop, lambda: reply_message(chat, replies[0]).reply_status == "confirmed")
    menu = chat.build_menu(reply_message(chat, replies[1]))
    next(a for a in menu.actions() if a.objectName() == "sendAgain").trigger()
    wait_until(qloop, lambda: reply_message(chat, replies[1]).reply_status == "queued")
    assert run(qloop, engine.outbox.get(replies[1])).error_code is None  # sent without another look
