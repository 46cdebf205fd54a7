"""The adapter's QR login against the sandbox site in real Chromium."""
from __future__ import annotations

import asyncio

import pytest
import segno

from app.engine.platform import LoginFailed, SessionStatus

from .harness import CREATOR, RecordingLoginIO
from .qr_png import qr_modules

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60), pytest.mark.asyncio(loop_scope="module")]


async def test_qr_login_reports_the_code_its_refresh_the_scan_and_asks_for_the_sms_code(platform, page, control):
    await control.set_faults(qr_ttl_s=2, sms_required=True)
    sms_codes: list[str] = []

    async def answer(kind: str, prompt: str) -> str:
        if not sms_codes:  # the operator mistypes once; the site says so and we are asked again
            sms_codes.append("000000")
            return "000000"
        ticket = await control.login(token)
        sms_codes.append(ticket["sms_code"])
        return ticket["sms_code"]

    io = RecordingLoginIO(answer)
    login = asyncio.create_task(platform.login(page, io))

    first = await io.wait_for("qr_ready")
    qr = segno.make(first["qr_url"], error="m")
    assert qr_modules(first["qr_png"], modules=len(qr.matrix), border=2) == [list(row) for row in qr.matrix]
    assert first["qr_url"].startswith(f"{platform.base_url}/phone/scan?token=")
    assert first["expires_at"] is not None

    refreshed = await io.wait_for("qr_refreshed", timeout=10)  # the 2 s code expired
    assert refreshed["qr_url"] != first["qr_url"] and refreshed["qr_png"] != first["qr_png"]
    token = refreshed["qr_url"].split("token=")[1]

    await control.scan(token)
    await io.wait_for("scanned")
    await control.confirm(token, CREATOR)
    outcome = await asyncio.wait_for(login, 20)

    creator = await control.ensure_creator(CREATOR)
    assert outcome.platform_user_id == creator["uid"]
    assert outcome.username == CREATOR
    assert outcome.avatar_url.endswith(f"/avatars/{creator['uid']}.svg")
    assert [kind for kind, _ in io.questions] == ["sms_code", "sms_code"]
    assert "wrong" in io.questions[1][1]  # the second prompt tells why it asks again
    assert io.states()[:3] == ["qr_ready", "qr_refreshed", "scanned"]
    assert await platform.check_session(page) is SessionStatus.LOGGED_IN


async def test_the_phone_page_scans_and_confirms_a_login(platform, page, control):
    io = RecordingLoginIO()
    login = asyncio.create_task(platform.login(page, io))
    ready = await io.wait_for("qr_ready")
    phone = await page.context.new_page()  # the "phone" opens the URL in the QR code
    await phone.goto(ready["qr_url"])
    await phone.fill("#creator-name", "Phone Creator 📱")
    await phone.click("#confirm")
    outcome = await asyncio.wait_for(login, 20)
    assert outcome.username == "Phone Creator 📱"
    assert "scanned" in io.states()


async def test_a_refused_login_raises_login_failed_with_the_sites_reason(platform, page, control):
    await control.set_faults(fail_login="账号存在风险 account under risk review")
    io = RecordingLoginIO()
    login = asyncio.create_task(platform.login(page, io))
    ready = await io.wait_for("qr_ready")
    await control.confirm(ready["qr_url"].split("token=")[1], CREATOR)
    with pytest.raises(LoginFailed, match="account under risk review"):
        await asyncio.wait_for(login, 20)
    assert await platform.check_session(page) is SessionStatus.EXPIRED
