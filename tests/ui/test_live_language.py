"""Switching the language in the settings shows every pane in the new language at once, not
after a restart: the topic filter, the chat header, the reply box and its banner, the status bar."""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication


from .conftest import comments, ingest, open_first_topic, wait_until




def test_every_pane_follows_a_live_language_switch(engine, qloop, window, account, language):
    ingest(qloop, engine, account, comments=comments("v1", 3),
           contents=[{"platform_content_id": "v1", "title": "开箱视频"}])
    open_first_topic(qloop, window)
    wait_until(qloop, lambda: window.chat.model is not None and window.chat.model.rowCount() == 3)
    window.set_engine_state(lambda: QCoreApplication.translate("MainWindow", "Ready"))
    chat = window.chat
    chat.reply_box.set_target(chat.model.item(0))
    assert window.topics_pane.filter.currentText() == "All"
    assert chat.subtitle.text() == "Comments · 3 messages"

    language("zh_CN")
    pane = window.topics_pane
    assert [pane.filter.itemText(i) for i in range(pane.filter.count())] == ["全部", "评论", "私信", "未读"]
    assert chat.subtitle.text() == "评论 · 3 条消息"
    assert chat.reply_box.input.placeholderText() == "输入回复…（Enter 发送，Shift+Enter 换行）"
    assert chat.reply_box.send_button.text() == "发送"
    assert chat.reply_box.target_label.text().startswith("回复 Bob：")
    assert window.engine_state.text() == "就绪"
    assert window.unread_label.text().startswith("未读")

    language("en")
    assert pane.filter.itemText(0) == "All"
    assert chat.reply_box.send_button.text() == "Send"
    assert chat.reply_box.target_label.text().startswith("Replying to Bob: ")
    assert window.engine_state.text() == "Ready"


def test_the_empty_chat_pane_follows_the_language_too(engine, qloop, window, language):
    assert window.chat.title.text() == "No topic open"
    language("zh_CN")
    assert window.chat.title.text() == "未打开会话"
    assert window.chat.placeholder.text() == QCoreApplication.translate(
        "ChatPane", "Choose a conversation or a work on the left.") != "Choose a conversation or a work on the left."
