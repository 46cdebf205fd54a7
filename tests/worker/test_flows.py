"""The worker doing the real work for a master that speaks the contract: a login relayed
step by step (the sandbox "phone" scans the QR code the master was shown), the account's
traffic reaching the master as deltas, and replies sent exactly once, through real
Chromium driving the sandbox site, which runs in the test (as in the master's process)."""
from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlparse

import pytest

from app.engine.im.types import TopicRef
from tests.e2e.harness import site_copies

from .conftest import running_worker
from .master import FakeMaster
from .test_link import account

pytestmark = pytest.mark.browser


def statuses(master: FakeMaster, status: str) -> list[dict]:
    return [s for s in master.of("worker:login:status") if s["status"] == status]


async def relayed_login(master: FakeMaster, control, account_id: str, creator: str, session_id: str,
                        *, ends: str = "success") -> dict:
    """The master starts the login; the operator "scans" the QR code relayed to it; the
    worker's last word (`ends`: the status it must be)."""
    await master.emit("master:login:start", {"account_id": account_id, "session_id": session_id,
                                             "platform": "sandbox", "proxy": None, "visible": False})
    [ready] = await master.until(lambda: [s for s in statuses(master, "qrcode_ready") if s["session_id"] == session_id],
                                 what="the relayed QR code")
    assert ready["account_id"] == account_id and ready["expires_at"] > 1e9
    assert base64.b64decode(ready["qr_code_data"].removeprefix("data:image/png;base64,")).startswith(b"\x89PNG")
    token = parse_qs(urlparse(ready["qr_url"]).query)["token"][0]
    await control.scan(token)
    await control.confirm(token, creator)
    [done] = await master.until(
        lambda: [s for s in master.of("worker:login:status")
                 if s["session_id"] == session_id and s["status"] in ("success", "failed")],
        timeout=30, what="the end of the relayed login")
    assert done["status"] == ends, done
    return done


async def test_a_relayed_qr_login_then_the_accounts_traffic_reaches_the_master(tmp_path, master, site, control):
    master.accounts = [account("acc-a")]
    async with running_worker(tmp_path / "home", master.url, site_url=site.base_url) as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        success = await relayed_login(master, control, "acc-a", "Creator A", "m-1")
        assert statuses(master, "scanning")
        assert success["platform_user_id"] and success["user_info"]["nickname"] == "Creator A"
        assert any(c["name"] for c in success["storage_state"]["cookies"])  # the session, for the master to save
        assert (await rig.engine.accounts.get("acc-a")).login_status == "logged_in"
        await master.until(lambda: [s for s in master.of("worker:account:storage") if s["account_id"] == "acc-a"],
                           what="the saved session")

        await control.inject_comment("小红", "这个多少钱？", creator="Creator A")
        await control.inject_dm("Bob", "Do you ship to Shanghai?", creator="Creator A")

        def texts() -> set[str]:
            return {r["text"] for d in master.of("worker:data:delta") if d["account_id"] == "acc-a"
                    for r in d["batch"]["comments"] + d["batch"]["messages"]}

        await master.until(lambda: {"这个多少钱？", "Do you ship to Shanghai?"} <= texts(), timeout=30,
                           what="the comment and the DM in deltas")
        await master.until(lambda: rig.journal.count() == 0, what="every delta acknowledged")


async def test_a_login_as_another_identity_is_refused_on_the_worker(tmp_path, master, site, control):
    master.accounts = [account("acc-a", platform_user_id="someone-else", login_status="expired")]
    async with running_worker(tmp_path / "home", master.url, site_url=site.base_url) as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        failed = await relayed_login(master, control, "acc-a", "Creator A", "m-1", ends="failed")
        assert failed["error_type"] == "identity_mismatch" and "someone-else" in failed["error_message"]
        assert (await rig.engine.accounts.get("acc-a")).login_status == "expired"


async def test_the_same_reply_request_twice_is_sent_once_also_after_a_restart(tmp_path, master, site, control):
    master.accounts = [account("acc-a")]
    home = tmp_path / "home"
    async with running_worker(home, master.url, site_url=site.base_url) as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        await relayed_login(master, control, "acc-a", "Creator A", "m-1")
        comment = (await control.inject_comment("小红", "这个多少钱？", creator="Creator A"))["comment"]
        work = TopicRef("acc-a", "content", comment["work_id"])
        await master.until(lambda: _shown(rig, work, "这个多少钱？"), timeout=30, what="the comment on the worker")
        request = {"reply_id": "reply_1", "request_id": "req-1", "platform": "sandbox", "account_id": "acc-a",
                   "target_type": "comment", "target_id": comment["cid"], "reply_content": "9.9 元包邮",
                   "target": {"kind": "comment", "topic_platform_id": comment["work_id"],
                              "target_platform_id": comment["cid"], "target_text": "这个多少钱？",
                              "target_author": "小红"}}
        await master.emit("master:reply:request", request)
        await master.emit("master:reply:request", request)  # re-sent while the first is on its way
        results = await master.until(lambda: len(master.of("worker:reply:result")) == 2 and master.of("worker:reply:result"),
                                     timeout=30, what="two answers")
        assert {r["status"] for r in results} == {"success"}, results
        assert len({r["platform_reply_id"] for r in results}) == 1
        assert results[0]["error_class"] is None and results[0]["request_id"] == "req-1"

        await master.emit("master:reply:find", {"request_id": "req-1", "account_id": "acc-a",
                                                "target": request["target"], "text": "9.9 元包邮",
                                                "since": (comment["create_time"] - 5) * 1000})
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
    master.accounts = [account("acc-a"), account("acc-b")]
    async with running_worker(tmp_path / "home", master.url, site_url=site.base_url) as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        await control.set_faults(sms_required=True)
        await master.emit("master:login:start", {"account_id": "acc-a", "session_id": "m-1"})
        [ready] = await master.until(lambda: statuses(master, "qrcode_ready"), what="the QR code")
        token = parse_qs(urlparse(ready["qr_url"]).query)["token"][0]
        await control.scan(token)
        await control.confirm(token, "Creator A")
        [asked] = await master.until(lambda: statuses(master, "sms_input_required"), timeout=30, what="the SMS step")
        assert (asked["session_id"], asked["step"], asked["login_method"]) == ("m-1", "verification_code", "sms")
        code = (await control.login(token))["sms_code"]
        await master.emit("master:login:user_input", {"session_id": "m-1", "input_type": "verification_code",
                                                      "value": code})
        await master.until(lambda: statuses(master, "success"), timeout=30, what="the login's success")

        await master.emit("master:login:start", {"account_id": "acc-b", "session_id": "m-2"})
        await master.until(lambda: [s for s in statuses(master, "qrcode_ready") if s["session_id"] == "m-2"],
                           what="the second QR code")
        await master.emit("master:login:cancel", {"session_id": "m-2"})  # the operator closed the dialog
        [ended] = await master.until(lambda: statuses(master, "failed"), what="the cancelled login")
        assert (ended["session_id"], ended["error_type"]) == ("m-2", "cancelled")
        assert (await rig.engine.accounts.get("acc-b")).login_status == "not_logged_in"
