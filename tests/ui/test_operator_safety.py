"""Operator safety in the main window: a reply goes where it was typed, from the account the
header names; lists do not move under the pointer; nothing is marked read that nobody saw."""
from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QContextMenuEvent, QEnterEvent
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox, QWidget

from app.ui.main_window import MainWindow
from app.ui.models.keyed import ObjectRole

from .conftest import T0, comments, dm_ref, ingest, run, video_ref, wait_until
from .test_main_window import dms, shown_texts


@pytest.fixture
def make_window(engine, qloop, qtbot, tmp_path, language):
    """Main windows on the same state folder (a second one is the console restarted)."""
    language("en")
    windows = []

    def make() -> MainWindow:
        window = MainWindow(tmp_path)
        qtbot.addWidget(window)
        window.attach_engine(engine)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.detach_engine()


@pytest.fixture
def window(make_window):
    return make_window()


def topic_rows(window):
    model = window.topics_pane.model
    return [] if model is None else [model.item(r).ref for r in range(model.rowCount())]


def channel_rows(window):
    model = window.channels_model
    return [model.item(r).account_id for r in range(model.rowCount())]


def current_channel(window):
    index = window.channel_list.currentIndex()
    return index.data(ObjectRole).account_id if index.isValid() else None


def unread(qloop, engine, ref):
    """The topic's stored unread count, read straight from the database (this is called
    from inside wait_until's loop, where another run() would nest)."""
    from sqlalchemy import text

    table, key = (("contents", "platform_content_id") if ref.kind == "content"
                  else ("conversations", "platform_conversation_id"))
    with engine.db.session() as session:
        return session.execute(
            text(f"select unread_count from {table} where account_id = :a and {key} = :k"),
            {"a": ref.account_id, "k": ref.platform_id}).scalar_one()


def open_topic(qloop, window, ref):
    wait_until(qloop, lambda: ref in topic_rows(window))
    window.topics_pane.select(ref)
    wait_until(qloop, lambda: window.chat.topic is not None and window.chat.topic.ref == ref
               and window.chat.model is not None and window.chat.model.rowCount() > 0)


def right_click(qtbot, view, pos: QPoint) -> QMenu:
    """What a right click does on X11: the press and release, then the context menu event."""
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.RightButton, pos=pos)
    QApplication.sendEvent(view.viewport(), QContextMenuEvent(
        QContextMenuEvent.Reason.Mouse, pos, view.viewport().mapToGlobal(pos)))
    menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu), "no context menu"
    return menu


def close_menu(qloop, menu: QMenu, window) -> None:
    """Close a context menu; the window manager gives the window its activation back (the
    offscreen platform does not, so the test does)."""
    menu.close()
    window.activateWindow()
    wait_until(qloop, window.isActiveWindow)


def row_center(view, row: int) -> QPoint:
    return view.visualRect(view.model().index(row, 0)).center()


def hover(view) -> None:
    QApplication.sendEvent(view, QEnterEvent(QPointF(5, 5), QPointF(5, 5), QPointF(5, 5)))


def unhover(view) -> None:
    QApplication.sendEvent(view, QEvent(QEvent.Type.Leave))


# ---- 1. Drafts belong to their conversation --------------------------------------------------

def test_a_draft_stays_with_its_topic_and_survives_a_restart(engine, qloop, qtbot, make_window, account):
    window = make_window()
    ingest(qloop, engine, account, comments=comments("v1", 2), messages=dms("d1", 2),
           contents=[{"platform_content_id": "v1", "title": "开箱视频"}])
    video, dm = video_ref(account), dm_ref(account)
    open_topic(qloop, window, video)
    box = window.chat.reply_box
    box.input.setFocus()
    qtbot.keyClicks(box.input, "for Bob only")
    wait_until(qloop, lambda: window.chat.account_label.text() == "as Shop A · Sandbox")

    qtbot.keyClick(box.input, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)  # the topic above
    wait_until(qloop, lambda: window.chat.topic.ref == dm)
    assert box.text() == ""  # the DM shows its own (empty) draft
    qtbot.keyClick(box.input, Qt.Key.Key_Return)  # so Enter sends nothing to Dora
    qtbot.keyClicks(box.input, "hi Dora")
    qtbot.keyClick(box.input, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    wait_until(qloop, lambda: window.chat.topic.ref == video)
    assert box.text() == "for Bob only"
    assert run(qloop, engine.outbox.list(account_id=account)) == []  # nothing was sent anywhere

    window.save_state()  # the console closes and starts again
    again = make_window()
    wait_until(qloop, lambda: again.chat.topic is not None and again.chat.topic.ref == video)
    assert again.chat.reply_box.text() == "for Bob only"
    again.topics_pane.select(dm)
    wait_until(qloop, lambda: again.chat.topic.ref == dm)
    assert again.chat.reply_box.text() == "hi Dora"


def test_the_header_names_the_account_that_replies(engine, qloop, window, account):
    other = run(qloop, engine.accounts.create("sandbox", "Shop B"))
    same_title = [{"platform_content_id": "v1", "title": "同款视频"}]
    ingest(qloop, engine, account, comments=comments("v1", 1), contents=same_title)
    ingest(qloop, engine, other, comments=comments("v1", 1, at=T0 + timedelta(hours=1)), contents=same_title)
    window.open_channel(other)
    open_topic(qloop, window, video_ref(other))
    wait_until(qloop, lambda: window.chat.account_label.text() == "as Shop B · Sandbox")
    window.open_channel(account)
    wait_until(qloop, lambda: window.chat.topic is None)  # another account: its chat closes
    open_topic(qloop, window, video_ref(account))
    assert window.chat.title.text() == "同款视频"
    wait_until(qloop, lambda: window.chat.account_label.text() == "as Shop A · Sandbox")
    run(qloop, engine.accounts.update(account, display_name="Shop A (front desk)"))
    wait_until(qloop, lambda: window.chat.account_label.text() == "as Shop A (front desk) · Sandbox")


def test_a_reply_accepted_after_switching_topic_clears_its_own_draft_only(engine, qloop, qtbot, window, account):
    ingest(qloop, engine, account, comments=comments("v1", 1), messages=dms("d1", 1))
    video, dm = video_ref(account), dm_ref(account)
    open_topic(qloop, window, video)
    box = window.chat.reply_box
    qtbot.keyClicks(box.input, "thanks")
    qtbot.keyClick(box.input, Qt.Key.Key_Return)
    window.topics_pane.select(dm)  # before the outbox has answered
    qtbot.keyClicks(box.input, "draft for Dora")
    wait_until(qloop, lambda: window.chat._drafts.get(video) == "")
    assert box.text() == "draft for Dora"


# ---- 3. Lists do not move under the pointer ------------------------------------------------

def test_channels_hold_their_order_under_the_pointer_and_say_what_waits(engine, qloop, qtbot, window, account):
    second = run(qloop, engine.accounts.create("sandbox", "Shop B"))
    third = run(qloop, engine.accounts.create("sandbox", "Shop C"))
    ingest(qloop, engine, account, comments=comments("v1", 1, at=T0 + timedelta(hours=2)))
    ingest(qloop, engine, second, comments=comments("v1", 1, at=T0 + timedelta(hours=1)))
    ingest(qloop, engine, third, comments=comments("v1", 1, at=T0))
    wait_until(qloop, lambda: channel_rows(window) == [account, second, third])
    window.open_channel(second)
    hover(window.channel_list)
    ingest(qloop, engine, third, comments=comments("v1", 1, start=5, at=T0 + timedelta(hours=3)))
    button = window.channel_list.waiting_button
    rows_before = [window.channel_list.visualRect(window.channels_model.index(r)) for r in range(3)]
    wait_until(qloop, lambda: button.isVisible())
    assert button.text() == "1 new ↑"
    assert channel_rows(window) == [account, second, third]  # nothing moved
    # ... not even by a pixel, and the button hides none of the rows: it has a strip of its own
    assert [window.channel_list.visualRect(window.channels_model.index(r)) for r in range(3)] == rows_before
    viewport = window.channel_list.viewport().geometry()
    assert not button.geometry().intersects(viewport) and window.channel_list.rect().contains(button.geometry())
    assert window.channels_model.channel(third).unread_count == 2  # the badge still updates
    qtbot.mouseClick(window.channel_list.viewport(), Qt.MouseButton.LeftButton,
                     pos=row_center(window.channel_list, 2))
    assert current_channel(window) == third  # the row that was under the pointer

    window.open_channel(second)
    ingest(qloop, engine, account, comments=comments("v1", 1, start=7, at=T0 + timedelta(hours=4)))
    wait_until(qloop, lambda: button.text() == "1 new ↑" and window.channels_model.channel(account).unread_count == 2)
    unhover(window.channel_list)  # leaving the list applies the new order
    assert channel_rows(window) == [account, third, second]
    assert not button.isVisible()
    assert current_channel(window) == second  # the same account, on its new row


def test_clicking_new_activity_shows_the_new_order_of_topics(engine, qloop, qtbot, window, account):
    ingest(qloop, engine, account, comments=comments("v1", 1, at=T0 + timedelta(hours=1)),
           messages=dms("d1", 1))
    video, dm = video_ref(account), dm_ref(account)
    wait_until(qloop, lambda: topic_rows(window) == [dm, video])
    topics = window.topics_pane.list
    hover(topics)
    ingest(qloop, engine, account, comments=comments("v1", 1, start=3, at=T0 + timedelta(hours=5)))
    wait_until(qloop, lambda: topics.waiting_button.isVisible())
    assert topic_rows(window) == [dm, video]
    qtbot.mouseClick(topics.waiting_button, Qt.MouseButton.LeftButton)
    assert topic_rows(window) == [video, dm]
    assert not topics.waiting_button.isVisible()


# ---- 4. Nothing is marked read that nobody looked at ---------------------------------------

def test_selecting_an_account_opens_no_topic_and_a_right_click_selects_nothing(
        engine, qloop, qtbot, window, account):
    other = run(qloop, engine.accounts.create("sandbox", "Shop B"))
    ingest(qloop, engine, account, comments=comments("v1", 2, at=T0 + timedelta(hours=1)))
    ingest(qloop, engine, other, comments=comments("v1", 3))
    wait_until(qloop, lambda: channel_rows(window) == [account, other] and current_channel(window) == account)

    menu = right_click(qtbot, window.channel_list, row_center(window.channel_list, 1))
    assert current_channel(window) == account and window.topics_pane.account_id == account
    assert window.channels_model.held  # the rows stay put while the menu is open
    close_menu(qloop, menu, window)
    assert not window.channels_model.held
    window.open_channel(other)
    wait_until(qloop, lambda: topic_rows(window) == [video_ref(other)])
    assert window.chat.topic is None and window.chat.model is None  # nothing shown, nothing read
    assert unread(qloop, engine, video_ref(other)) == 3

    menu = right_click(qtbot, window.topics_pane.list, row_center(window.topics_pane.list, 0))
    assert window.chat.topic is None
    actions = {a.objectName(): a for a in menu.actions()}
    assert {"open", "markRead", "markUnread", "copyLink"} <= set(actions)
    actions["markRead"].trigger()  # the operator asks for it: that is fine
    close_menu(qloop, menu, window)
    wait_until(qloop, lambda: unread(qloop, engine, video_ref(other)) == 0)
    assert window.chat.topic is None
    menu = right_click(qtbot, window.topics_pane.list, row_center(window.topics_pane.list, 0))
    next(a for a in menu.actions() if a.objectName() == "markUnread").trigger()
    close_menu(qloop, menu, window)
    wait_until(qloop, lambda: unread(qloop, engine, video_ref(other)) == 1)
    menu = right_click(qtbot, window.topics_pane.list, row_center(window.topics_pane.list, 0))
    next(a for a in menu.actions() if a.objectName() == "open").trigger()
    close_menu(qloop, menu, window)
    wait_until(qloop, lambda: window.chat.topic is not None and window.chat.topic.ref == video_ref(other))
    wait_until(qloop, lambda: unread(qloop, engine, video_ref(other)) == 0)


def test_messages_arriving_while_the_window_is_inactive_stay_unread_until_it_is_active(
        engine, qloop, qtbot, window, account):
    ingest(qloop, engine, account, comments=comments("v1", 2))
    ref = video_ref(account)
    open_topic(qloop, window, ref)
    wait_until(qloop, lambda: unread(qloop, engine, ref) == 0)

    elsewhere = QWidget()  # the operator switches to another program
    qtbot.addWidget(elsewhere)
    elsewhere.show()
    elsewhere.activateWindow()
    wait_until(qloop, lambda: not window.isActiveWindow())
    ingest(qloop, engine, account, comments=comments("v1", 1, start=2))
    wait_until(qloop, lambda: shown_texts(window)[-1:] == ["comment 2"])
    window.chat.mark_read()  # shown, but nobody is looking: nothing is marked
    assert window.chat._unseen and unread(qloop, engine, ref) == 1

    window.activateWindow()  # back to the console: now it is seen
    wait_until(qloop, lambda: window.isActiveWindow())
    wait_until(qloop, lambda: unread(qloop, engine, ref) == 0)


# ---- 5. "Mark all read" asks first and can be undone ---------------------------------------

def test_mark_all_read_asks_naming_the_accounts_and_can_be_undone(engine, qloop, qtbot, window, account, language):
    other = run(qloop, engine.accounts.create("sandbox", "Shop B"))
    ingest(qloop, engine, account, comments=comments("v1", 2, at=T0 + timedelta(hours=1)))
    ingest(qloop, engine, other, messages=dms("d1", 3))
    wait_until(qloop, lambda: window.unread_label.text() == "Unread: 5")
    window.mark_all_read_action.trigger()
    wait_until(qloop, lambda: "mark_all_read" in window.dialogs)
    box = window.dialogs["mark_all_read"]
    assert box.isVisible() and box.text() == "Mark 5 unread messages read?"
    assert box.informativeText() == "In 2 accounts: Shop B (3) and Shop A (2)"  # list order
    box.button(QMessageBox.StandardButton.Cancel).click()  # Cancel changes nothing
    language("zh_CN")  # a Chinese list reads "甲、乙和丙", not "甲, 乙"
    window.mark_all_read_action.trigger()
    wait_until(qloop, lambda: "mark_all_read" in window.dialogs)
    assert window.dialogs["mark_all_read"].informativeText().endswith("：Shop B (3)和Shop A (2)")
    window.dialogs["mark_all_read"].button(QMessageBox.StandardButton.Cancel).click()
    language("en")
    assert "mark_all_read" not in window.dialogs
    assert unread(qloop, engine, video_ref(account)) == 2

    window.mark_all_read_action.trigger()
    wait_until(qloop, lambda: "mark_all_read" in window.dialogs)
    window.dialogs["mark_all_read"].button(QMessageBox.StandardButton.Yes).click()
    wait_until(qloop, lambda: window.unread_label.text() == "Unread: 0")
    banner = window.undo_banner
    assert banner.isVisible() and banner.label.text() == "5 messages marked read"
    qtbot.mouseClick(banner.undo_button, Qt.MouseButton.LeftButton)
    wait_until(qloop, lambda: window.unread_label.text() == "Unread: 5")
    assert not banner.isVisible()
    assert unread(qloop, engine, video_ref(account)) == 2 and unread(qloop, engine, dm_ref(other)) == 3


def test_the_replying_account_and_new_activity_follow_a_language_switch(engine, qloop, window, account, language):
    ingest(qloop, engine, account, comments=comments("v1", 1), messages=dms("d1", 1))
    video = video_ref(account)
    open_topic(qloop, window, video)
    wait_until(qloop, lambda: window.chat.account_label.text() == "as Shop A · Sandbox")
    topics = window.topics_pane.list
    hover(topics)
    ingest(qloop, engine, account, comments=comments("v1", 1, start=3, at=T0 + timedelta(hours=5)))
    wait_until(qloop, lambda: topics.waiting_button.text() == "1 new ↑")
    language("zh_CN")
    assert window.chat.account_label.text() == "以 Shop A · 沙盒 的身份回复"
    assert topics.waiting_button.text() == "1 条新动态 ↑"
