"""Why something failed is said in the operator's language; the engine's English sentence and
its internal code are kept for the tooltip and the log, never shown in the Chinese UI's text."""
from __future__ import annotations

import re

import pytest
from app.ui.components.chat_pane import ChatPane
from PySide6.QtGui import QFontMetrics

from app.ui.views.bubble_delegate import status_text
from app.ui.views.painting import small_font
from app.ui.views.avatar_images import AvatarImages
from app.ui.views.channel_delegate import ChannelDelegate

from .conftest import comments, ingest, run, video_ref, wait_until

LATIN_WORD = re.compile(r"[A-Za-z_]{3,}")


@pytest.fixture
def chat(engine, bridge, qtbot, qloop):
    pane = ChatPane(engine, bridge)
    qtbot.addWidget(pane)
    pane.resize(800, 600)
    pane.show()
    return pane


def test_a_failed_reply_says_why_in_chinese_with_the_code_in_its_tooltip(engine, qloop, chat, account, language):
    language("zh_CN")
    ingest(qloop, engine, account, comments=comments("v1", 2))
    engine.outbox.max_attempts = 1
    chat.open_topic(run(qloop, engine.views.topic(video_ref(account))))
    wait_until(qloop, lambda: chat.model is not None and chat.model.rowCount() == 2)
    chat.send("你好", None)  # no browsers in this test: the attempt fails
    wait_until(qloop, lambda: chat.model.rowCount() == 3 and chat.model.item(2).reply_status == "failed")
    failed = chat.model.item(2)
    assert failed.reply_error_code == "transient" and failed.reply_error  # the engine's English

    shown = status_text(failed)
    assert shown.startswith("✗ 失败："), shown
    assert not LATIN_WORD.search(shown), shown  # no English sentence, no internal code
    assert shown == "✗ 失败：无法连接平台"

    index = chat.model.index(2, 0)
    rect = chat.list.visualRect(index)
    geometry = chat.delegate.geometry(rect, failed, chat.list.font())
    # The footer has room for the whole reason (it is not cut to "…").
    assert geometry.footer.width() >= QFontMetrics(small_font(chat.list.font())).horizontalAdvance(shown)
    tip = chat.delegate.status_tooltip(rect, failed, chat.list.font(), geometry.footer.center())
    assert failed.reply_error in tip and "(transient)" in tip


def test_a_reply_waiting_for_its_worker_says_so_in_chinese_with_the_words_in_its_tooltip(
        engine, qloop, chat, account, language):
    language("zh_CN")
    ingest(qloop, engine, account, comments=comments("v1", 2))
    run(qloop, engine.accounts.set_worker(account, "w-away"))  # a remote worker, not connected
    chat.open_topic(run(qloop, engine.views.topic(video_ref(account))))
    wait_until(qloop, lambda: chat.model is not None and chat.model.rowCount() == 2)
    chat.send("你好", None)
    wait_until(qloop, lambda: chat.model.rowCount() == 3 and chat.model.item(2).reply_wait_code is not None)
    waiting = chat.model.item(2)
    assert waiting.reply_status == "queued" and "w-away" in waiting.reply_error  # the IM clients' words

    shown = status_text(waiting)
    assert shown.startswith("◷ 排队中："), shown
    assert not LATIN_WORD.search(shown), shown
    index = chat.model.index(2, 0)
    rect = chat.list.visualRect(index)
    geometry = chat.delegate.geometry(rect, waiting, chat.list.font())
    tip = chat.delegate.status_tooltip(rect, waiting, chat.list.font(), geometry.footer.center())
    assert waiting.reply_error in tip and "(no_worker)" in tip
    # Read back from the database (a reopened topic), it says the same.
    stored = run(qloop, engine.views.messages(video_ref(account), limit=5)).items[-1]
    assert stored.reply_id == waiting.reply_id and status_text(stored) == shown


def test_a_quiet_channel_says_why_in_the_operators_language(engine, qloop, account, language):
    language("zh_CN")
    run(qloop, engine.accounts.set_login_status(account, "expired", error="The login expired; log in again."))
    channel = next(c for c in run(qloop, engine.views.channels()) if c.account_id == account)
    preview = ChannelDelegate(AvatarImages(engine.paths.data_dir)).row_content(channel).preview
    assert preview.startswith("登录已失效"), preview
    assert not LATIN_WORD.search(preview), preview
    language("en")
    assert ChannelDelegate(AvatarImages(engine.paths.data_dir)).row_content(channel).preview == (
        "Session expired: log in again to receive and send messages")


def test_the_status_line_names_the_account_and_says_why_in_its_language(engine, qloop, qtbot, tmp_path, account, language):
    from app.ui.main_window import MainWindow

    language("zh_CN")
    window = MainWindow(tmp_path)
    qtbot.addWidget(window)
    window.attach_engine(engine)
    wait_until(qloop, lambda: window.channels_model.channel(account) is not None)
    run(qloop, engine.accounts.set_login_status(account, "expired", error="The login expired; log in again."))
    wait_until(qloop, lambda: window.statusBar().currentMessage() != "")
    message = window.statusBar().currentMessage()
    assert message.startswith("Shop A："), message
    assert not LATIN_WORD.search(message.removeprefix("Shop A：")), message
    assert account not in message
    window.detach_engine()
