"""The operator sees, before typing, that the replying account cannot send (and can log it
in again from there), and sees a reply that did not go out in the topic list, not only inside
its conversation."""
from __future__ import annotations


from app.ui.views.topic_delegate import TopicDelegate

from .conftest import comments, ingest, open_first_topic, run, wait_until




def test_the_composer_warns_of_a_logged_out_account_and_offers_to_log_in(engine, qloop, qtbot, window, account):
    ingest(qloop, engine, account, comments=comments("v1", 2))
    open_first_topic(qloop, window)
    chat = window.chat
    wait_until(qloop, lambda: chat.topic is not None and chat.reply_box.isVisible())
    box = chat.reply_box
    wait_until(qloop, lambda: box.account_banner.isVisible())  # "Shop A" never logged in
    assert box.account_label.text() == (
        "This account: Not logged in. Replies cannot be sent until it is logged in again.")
    assert box.login_button.text() == "Log in again"

    run(qloop, engine.accounts.set_login_status(account, "logged_in"))
    wait_until(qloop, lambda: not box.account_banner.isVisible())
    run(qloop, engine.accounts.set_login_status(account, "expired", error="The login expired; log in again."))
    wait_until(qloop, lambda: box.account_banner.isVisible())
    assert "Session expired" in box.account_label.text()

    box.login_button.click()
    wait_until(qloop, lambda: "login" in window.dialogs)
    assert window.dialogs["login"].account_id == account


def test_a_failed_reply_marks_its_row_in_the_topic_list(engine, qloop, window, account):
    ingest(qloop, engine, account, comments=comments("v1", 2) + comments("v2", 1, prefix="x"))
    engine.outbox.max_attempts = 1  # no browsers: the first attempt fails for good
    open_first_topic(qloop, window, topics=2)
    chat = window.chat
    wait_until(qloop, lambda: chat.model is not None and chat.model.rowCount() > 0)
    pane = window.topics_pane
    ref = chat.topic.ref
    chat.send("thanks!", None)
    wait_until(qloop, lambda: (pane.model.topic(ref) is not None and pane.model.topic(ref).failed_replies == 1))
    assert TopicDelegate().row_content(pane.model.topic(ref)).warning == "✗ 1 not sent"
    others = [pane.model.item(r) for r in range(pane.model.rowCount()) if pane.model.item(r).ref != ref]
    assert others and all(TopicDelegate().row_content(t).warning == "" for t in others)
    pane.list.viewport().grab()  # paints the mark

    reply_id = next(chat.model.item(r).reply_id for r in range(chat.model.rowCount()) if chat.model.item(r).reply_id)
    run(qloop, engine.outbox.cancel(reply_id))
    wait_until(qloop, lambda: pane.model.topic(ref).failed_replies == 0)
