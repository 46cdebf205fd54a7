"""The main window on a real engine: the three panes, live updates and the keyboard."""
from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import Qt

from app.ui.models.keyed import ObjectRole

from .conftest import T0, comments, ingest, run, wait_until




def dms(conversation: str, count: int, *, peer: str = "Dora") -> list[dict]:
    return [
        {"platform_message_id": f"{conversation}-{i}", "platform_conversation_id": conversation,
         "sender_id": f"u-{peer}", "sender_name": peer, "text": f"dm {i}",
         "created_at": T0 + timedelta(hours=1, minutes=i)}
        for i in range(count)
    ]


def shown_texts(window) -> list[str]:
    model = window.chat.model
    if model is None:
        return []
    return [model.index(row, 0).data(ObjectRole).text for row in range(model.rowCount())]


def test_panes_fill_in_and_the_open_topic_follows_new_messages(engine, qloop, window, account):
    ingest(qloop, engine, account, comments=comments("v1", 3),
           contents=[{"platform_content_id": "v1", "title": "开箱视频 Unboxing 📦"}])
    # The first channel opens by itself; a topic opens when the operator picks it.
    wait_until(qloop, lambda: window.topics_pane.model is not None and window.topics_pane.model.rowCount() == 1)
    wait_until(qloop, lambda: window.unread_label.text() == "Unread: 3")
    assert window.chat.topic is None
    window.topics_pane.move(1)
    wait_until(qloop, lambda: window.chat.topic is not None and len(shown_texts(window)) == 3)
    assert window.chat.title.text() == "开箱视频 Unboxing 📦"
    assert window.chat.subtitle.text() == "Comments · 3 messages"
    wait_until(qloop, lambda: window.unread_label.text() == "Unread: 0")  # read on view

    ingest(qloop, engine, account, comments=comments("v1", 1, start=3))
    wait_until(qloop, lambda: shown_texts(window)[-1:] == ["comment 3"])
    wait_until(qloop, lambda: window.chat.subtitle.text() == "Comments · 4 messages")


def test_alt_down_and_up_move_between_topics(engine, qloop, qtbot, window, account):
    ingest(qloop, engine, account, comments=comments("v1", 2), messages=dms("d1", 2))
    wait_until(qloop, lambda: window.topics_pane.model is not None and window.topics_pane.model.rowCount() == 2)
    qtbot.keyClick(window.topics_pane.list, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    wait_until(qloop, lambda: window.chat.topic is not None)
    first = window.chat.topic.ref
    qtbot.keyClick(window.chat.list, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    wait_until(qloop, lambda: window.chat.topic.ref != first)
    second = window.chat.topic.ref
    assert {first.kind, second.kind} == {"content", "conversation"}
    qtbot.keyClick(window.chat.list, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    wait_until(qloop, lambda: window.chat.topic.ref == first)


def test_ctrl_k_finds_a_message_in_another_channel_and_opens_it(engine, qloop, qtbot, window, account):
    other = run(qloop, engine.accounts.create("sandbox", "Shop B"))
    ingest(qloop, engine, account, comments=comments("v1", 2))
    wait_until(qloop, lambda: window.topics_pane.model is not None and window.topics_pane.model.rowCount() == 1)
    window.topics_pane.move(1)
    ingest(qloop, engine, other, messages=dms("d9", 1, peer="Eve")
           + [{"platform_message_id": "needle", "platform_conversation_id": "d9", "sender_id": "u-Eve",
               "sender_name": "Eve", "text": "请问发票怎么开？", "created_at": T0 + timedelta(hours=3)}])
    wait_until(qloop, lambda: window.chat.topic is not None)
    qtbot.keyClick(window.chat.list, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    dialog = window.search_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.query.setText("发票")  # typed through an input method: QTest types ASCII only
    wait_until(qloop, lambda: len(dialog.hits()) == 1)
    qtbot.keyClick(dialog.query, Qt.Key.Key_Return)
    wait_until(qloop, lambda: window.chat.topic is not None and window.chat.topic.ref.account_id == other)
    wait_until(qloop, lambda: "请问发票怎么开？" in shown_texts(window))
    assert window.topics_pane.account_id == other
    assert window.channel_list.currentIndex().data(ObjectRole).account_id == other
