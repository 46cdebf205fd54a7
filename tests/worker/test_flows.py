"""The worker doing the real work for the real master side: a login relayed step by step
into the master's login session (the sandbox "phone" scans the QR code the master was
shown), the account's traffic reaching the master's database as deltas, and replies sent
exactly once, through real Chromium driving the sandbox site, which runs in the test (as in
the master's process)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from app.engine.avatars import avatar_file
from app.engine.events import LoginProgress
from app.engine.im.types import TopicRef
from app.engine.platform import LoginOutcome, ReplyTarget
from app.server.worker_link.remote import reply_request
from tests.e2e.harness import site_copies, stored_texts

from .conftest import running_worker

pytestmark = pytest.mark.browser


def statuses(master, status: str) -> list[dict]:
    return [s for s in master.of("worker:login:status") if s["status"] == status]


def progress_of(master) -> list[LoginProgress]:
    seen: list[LoginProgress] = []
    master.engine.bus.subscribe(LoginProgress, seen.append)
    return seen


def step(seen: list[LoginProgress], session_id: str, state: str) -> LoginProgress | None:
    return next((e for e in seen if e.session_id == session_id and e.state == state), None)


async def relayed_login(master, control, account_id: str, creator: str, *, ends: str = "success"):
    """The operator logs the account in on the master; the worker runs the page and relays
    the QR code, which the sandbox "phone" scans. The session, ended as `ends`."""
    seen = progress_of(master)
    session_id = await master.engine.logins.start(account_id)
    ready = await master.until(lambda: step(seen, session_id, "qr_ready"), timeout=30, what="the relayed QR code")
    assert ready.qr_png.startswith(b"\x89PNG") and ready.expires_at is not None
    token = parse_qs(urlparse(ready.qr_url).query)["token"][0]
    await control.scan(token)
    await control.confirm(token, creator)
    session = await master.until(lambda: (s := master.engine.logins.session(session_id)).finished and s,
                                 timeout=30, what="the end of the relayed login")
    assert session.state == ends, (session.state, session.message)
    return session


async def test_a_relayed_qr_login_then_the_accounts_traffic_reaches_the_master(tmp_path, master, site, control):
    a = await master.account("Creator A")
    async with running_worker(tmp_path / "home", master.url, site_url=site.base_url) as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        await relayed_login(master, control, a, "Creator A")
        assert statuses(master, "scanning")
        account = await master.engine.accounts.get(a)
        assert account.login_status == "logged_in" and account.platform_user_id
        assert account.platform_username == "Creator A"
        state = await master.engine.accounts.load_storage_state(a)  # the session, saved on the master
        assert any(c["name"] for c in state["cookies"])
        assert (await rig.engine.accounts.get(a)).login_status == "logged_in"
        # the avatar the worker fetched in the account's context is the master's too
        kept = avatar_file(rig.engine.paths.data_dir, a).read_bytes()
        assert kept.startswith(b"<svg") and avatar_file(master.engine.paths.data_dir, a).read_bytes() == kept

        await control.inject_comment("小红", "这个多少钱？", creator="Creator A")
        await control.inject_dm("Bob", "Do you ship to Shanghai?", creator="Creator A")

        async def arrived() -> bool:
            return {"这个多少钱？", "Do you ship to Shanghai?"} <= set(await stored_texts(master.engine.db, a))

        await master.until(arrived, timeout=30, what="the comment and the DM on the master")
        await master.until(lambda: rig.journal.count() == 0, what="every delta acknowledged")


async def test_a_login_as_another_identity_is_refused_and_the_dialog_is_told_why(tmp_path, master, site, control):
    a = await master.account("Creator A")
    await master.engine.accounts.record_login(a, LoginOutcome("someone-else", username="Someone Else"))
    await master.engine.accounts.set_login_status(a, "expired")
    async with running_worker(tmp_path / "home", master.url, site_url=site.base_url) as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        session = await relayed_login(master, control, a, "Creator A", ends="failed")
        assert session.error_code == "identity_mismatch" and "Someone Else" in session.message
        [failed] = statuses(master, "failed")
        assert failed["error_type"] == "identity_mismatch"  # refused on the worker, before the master's check
        assert (await master.engine.accounts.get(a)).login_status == "expired"
        assert (await rig.engine.accounts.get(a)).login_status == "expired"


async def test_the_same_reply_request_twice_is_sent_once_also_after_a_restart(tmp_path, master, site, control):
    a = await master.account("Creator A")
    home = tmp_path / "home"
    async with running_worker(home, master.url, site_url=site.base_url) as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        await relayed_login(master, control, a, "Creator A")
        comment = (await control.inject_comment("小红", "这个多少钱？", creator="Creator A"))["comment"]
        work = TopicRef(a, "content", comment["work_id"])
        await master.until(lambda: _shown(rig, work, "这个多少钱？"), timeout=30, what="the comment on the worker")
        target = ReplyTarget(kind="comment", topic_platform_id=comment["work_id"], target_platform_id=comment["cid"],
                             target_text="这个多少钱？", target_author="小红")
        request = reply_request("reply_1", "req-1", a, "sandbox", rig.link.options.worker_id, target, "9.9 元包邮")
        await master.emit("master:reply:request", request)
        await master.emit("master:reply:request", request)  # re-sent while the first is on its way
        results = await master.until(lambda: len(master.of("worker:reply:result")) == 2 and master.of("worker:reply:result"),
                                     timeout=30, what="two answers")
        assert {r["status"] for r in results} == {"success"}, results
        assert len({r["platform_reply_id"] for r in results}) == 1
        assert results[0]["error_class"] is None and results[0]["request_id"] == "req-1"

        await master.emit("master:reply:find", {"request_id": "req-1", "account_id": a, "target": request["target"],
                                                "text": "9.9 元包邮", "since": (comment["create_time"] - 5) * 1000})
        [found] = await master.until(lambda: master.of("worker:reply:found"), timeout=30, what="the look")
        assert found["found"] is True and found["platform_reply_id"] == results[0]["platform_reply_id"]

    async with running_worker(home, master.url, site_url=site.base_url) as rig:  # restarted: its disk remembers
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        await master.emit("master:reply:request", request)
        results = await master.until(lambda: len(master.of("worker:reply:result")) == 3 and master.of("worker:reply:result"),
                                     timeout=30, what="the third answer")
        assert results[2]["platform_reply_id"] == results[0]["platform_reply_id"]
    assert await site_copies(control, "Creator A", "9.9 元包邮") == 1


async def _shown(rig, topic: TopicRef, text: str) -> bool:
    return text in [m.text for m in (await rig.engine.views.messages(topic)).items]


async def test_the_sms_step_is_relayed_and_answered_from_the_master_and_a_cancel_ends_a_login(
        tmp_path, master, site, control):
    a, b = await master.account("Creator A"), await master.account("Creator B")
    seen = progress_of(master)
    async with running_worker(tmp_path / "home", master.url, site_url=site.base_url) as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        await control.set_faults(sms_required=True)
        session_id = await master.engine.logins.start(a)
        ready = await master.until(lambda: step(seen, session_id, "qr_ready"), timeout=30, what="the QR code")
        token = parse_qs(urlparse(ready.qr_url).query)["token"][0]
        await control.scan(token)
        await control.confirm(token, "Creator A")
        asked = await master.until(lambda: step(seen, session_id, "verification_required"), timeout=30,
                                   what="the SMS step")
        assert asked.input_kind == "sms_code"
        [relayed] = statuses(master, "sms_input_required")
        assert (relayed["step"], relayed["login_method"]) == ("verification_code", "sms")
        await master.engine.logins.submit_input(session_id, (await control.login(token))["sms_code"])
        session = await master.until(lambda: (s := master.engine.logins.session(session_id)).finished and s,
                                     timeout=60, what="the login's end")
        assert session.state == "success", (session.state, session.message)

        second = await master.engine.logins.start(b)
        await master.until(lambda: step(seen, second, "qr_ready"), timeout=30, what="the second QR code")
        await master.engine.logins.cancel(second)  # the operator closed the dialog
        [ended] = await master.until(lambda: statuses(master, "failed"), what="the cancelled login")
        assert ended["error_type"] == "cancelled"
        assert (await rig.engine.accounts.get(b)).login_status == "not_logged_in"
