"""The whole engine against the sandbox through real Chromium, as an operator uses it: log in
by QR code, receive comments and DMs, answer both and see the answers confirmed, get a blocked
reply through after the platform calms down, and notice an expired session."""
from __future__ import annotations

import pytest

from app.engine.events import AccountStatusChanged, MessageStatusChanged

from .harness import Console, running_engine, site_copies, until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]


@pytest.fixture
async def console(tmp_path, site, control):
    async with running_engine(tmp_path / "home", site.base_url) as engine:
        yield Console(engine, control)


async def _status(console: Console, reply_id: str, *statuses: str, timeout: float = 25.0):
    return await until(
        lambda: _row_in(console, reply_id, statuses), timeout=timeout, what=f"reply {reply_id} to be {statuses}"
    )


async def _row_in(console: Console, reply_id: str, statuses: tuple[str, ...]):
    row = await console.engine.outbox.get(reply_id)
    return row if row is not None and row.status in statuses else None


async def test_replies_to_a_comment_and_a_dm_are_confirmed_once(console):
    account_id = await console.login("e2e-shop")
    work_ref, comment_id, dm_ref = await console.receive("e2e-shop", account_id)

    comment_reply = await console.engine.outbox.reply(work_ref, "99 元包邮 😊", reply_to=comment_id, operator="amy")
    dm_reply = await console.engine.outbox.reply(dm_ref, "Yes, 2 days to Shanghai")
    placeholder = [m for m in (await console.engine.views.messages(dm_ref)).items if m.reply_id == dm_reply]
    assert placeholder and placeholder[0].reply_status in ("queued", "sending")  # shown at once

    for reply_id in (comment_reply, dm_reply):
        row = await _status(console, reply_id, "confirmed")
        assert row.platform_reply_id and row.attempts == 1
    assert await site_copies(console.control, "e2e-shop", "99 元包邮 😊") == 1
    assert await site_copies(console.control, "e2e-shop", "Yes, 2 days to Shanghai") == 1

    # The console shows each answer once, under the platform's id, confirmed.
    thread = (await console.engine.views.messages(work_ref)).items
    [answer] = [m for m in thread if m.text == "99 元包邮 😊"]
    assert (answer.reply_status, answer.reply_to_id, answer.direction) == ("confirmed", comment_id, "out")
    assert answer.id == (await console.engine.outbox.get(comment_reply)).platform_reply_id
    texts = await console.stored_texts(account_id)
    assert texts.count("99 元包邮 😊") == 1 and texts.count("Yes, 2 days to Shanghai") == 1


async def test_a_reply_is_confirmed_by_the_send_s_answer_not_by_the_next_poll(console, monkeypatch):
    account_id = await console.login("e2e-quick")
    work_ref, comment_id, _ = await console.receive("e2e-quick", account_id)
    timeline: list[tuple[str, str | None]] = []
    sandbox = console.engine.platforms.get("sandbox")
    real_poll = sandbox.poll

    async def poll(page, account, io):
        """While the reply goes out, a poll looks at nothing: only the send can confirm it."""
        timeline.append(("poll skipped", None))

    monkeypatch.setattr(sandbox, "poll", poll)
    console.engine.bus.subscribe(MessageStatusChanged, lambda e: timeline.append((e.status, e.reply_id)))
    reply_id = await console.engine.outbox.reply(work_ref, "Confirmed at once ⚡", reply_to=comment_id)
    row = await _status(console, reply_id, "confirmed", timeout=15)
    monkeypatch.setattr(sandbox, "poll", real_poll)

    statuses = [status for status, rid in timeline if rid == reply_id]
    assert statuses == ["queued", "sending", "sent", "confirmed"]
    print(f"confirmed {(row.confirmed_at - row.sent_at).total_seconds() * 1000:.0f} ms after sent (goal: < 1 s)")
    [shown] = [m for m in (await console.engine.views.messages(work_ref)).items if m.reply_id == reply_id]
    assert (shown.id, shown.reply_status) == (row.platform_reply_id, "confirmed")
    assert (await console.stored_texts(account_id)).count("Confirmed at once ⚡") == 1


async def test_a_blocked_reply_says_why_and_goes_out_on_retry(console):
    account_id = await console.login("e2e-busy")
    _, _, dm_ref = await console.receive("e2e-busy", account_id)
    await console.control.set_faults(rate_limit=True)

    reply_id = await console.engine.outbox.reply(dm_ref, "Sorry for the wait!")
    blocked = await _status(console, reply_id, "blocked", "failed")
    assert blocked.status == "blocked" and blocked.error_code == "blocked" and blocked.error_message
    [shown] = [m for m in (await console.engine.views.messages(dm_ref)).items if m.reply_id == reply_id]
    assert shown.reply_status == "blocked" and shown.reply_error == blocked.error_message
    assert await site_copies(console.control, "e2e-busy", "Sorry for the wait!") == 0

    await console.control.set_faults(rate_limit=False)
    await console.engine.outbox.retry(reply_id)
    await _status(console, reply_id, "confirmed")
    assert await site_copies(console.control, "e2e-busy", "Sorry for the wait!") == 1


async def test_an_expired_session_turns_the_account_expired(console):
    account_id = await console.login("e2e-expiring")
    _, _, dm_ref = await console.receive("e2e-expiring", account_id)
    assert await console.control.expire_sessions("e2e-expiring") >= 1

    await until(
        lambda: console.seen(AccountStatusChanged, account_id=account_id, login_status="expired"),
        timeout=20, what="the account to turn expired",
    )
    assert (await console.engine.accounts.get(account_id)).login_status == "expired"
    assert [c.login_status for c in await console.engine.views.channels() if c.account_id == account_id] == [
        "expired"
    ]
    # A reply now cannot go out; it says so instead of vanishing.
    reply_id = await console.engine.outbox.reply(dm_ref, "Are you still there?")
    failed = await _status(console, reply_id, "failed")
    assert failed.error_code == "session_expired"
    assert await site_copies(console.control, "e2e-expiring", "Are you still there?") == 0
