"""QR login and the session check against the routed creator centre in real Chromium."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import segno
from sandbox.harness import RecordingLoginIO

from app.engine.avatars import fetch_avatar
from app.engine.platform import STABLE_ID, NeedsVerification, SessionStatus
from app.platforms.douyin.errors import PageChanged

from .fixtures_io import SELF_UID
from .site import DOUYIN_ID, PIXEL, QR_PAYLOADS, SMS_CODE, data_url, qr_png

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90), pytest.mark.asyncio(loop_scope="module")]


async def test_qr_login_reports_the_code_its_refresh_the_scan_and_asks_for_the_sms_code(platform, page, context):
    codes = iter(["000000", SMS_CODE])  # the operator mistypes once

    async def answer(kind, prompt):
        return next(codes)

    io = RecordingLoginIO(answer)
    login = asyncio.create_task(platform.login(page, io))
    first = await io.wait_for("qr_ready")
    assert first["qr_png"] == qr_png("https://example.invalid/qr/1")  # the page's own image
    assert first["expires_at"] is not None
    await page.evaluate("window.__phone.refresh()")
    refreshed = await io.wait_for("qr_refreshed")
    assert refreshed["qr_png"] == qr_png("https://example.invalid/qr/2")
    await page.evaluate("window.__phone.scan()")
    await io.wait_for("scanned")
    await page.evaluate("window.__phone.confirm(true)")  # Douyin wants an SMS code after the scan
    outcome = await asyncio.wait_for(login, 30)

    assert outcome.platform_user_id == DOUYIN_ID and outcome.username == "测试创作者"
    assert outcome.avatar_url == "https://example.invalid/avatar/100.jpg"
    assert outcome.user_info[STABLE_ID] == SELF_UID  # the uid, from our works' author: it outlives a new 抖音号
    assert [kind for kind, _ in io.questions] == ["sms_code", "sms_code"]
    assert "错误" in io.questions[1][1]  # the second prompt says why it asks again
    assert await page.evaluate("1") == 1 and page.url.startswith("https://creator.douyin.com/creator-micro/")
    assert io.states()[:3] == ["qr_ready", "qr_refreshed", "scanned"]
    assert {c["name"] for c in await context.cookies()} >= {"sessionid"}
    assert await platform.check_session(page) is SessionStatus.LOGGED_IN


async def test_a_slider_after_the_scan_asks_for_the_visible_browser(platform, page):
    io = RecordingLoginIO()
    login = asyncio.create_task(platform.login(page, io))
    await io.wait_for("qr_ready")
    await page.evaluate("window.__phone.scan(); window.__phone.slider()")
    with pytest.raises(NeedsVerification, match="visible browser") as caught:
        await asyncio.wait_for(login, 30)
    assert caught.value.code == "needs_verification"


async def test_check_session_is_expired_without_the_session_cookie(platform, page, site):
    assert await platform.check_session(page) is SessionStatus.EXPIRED
    assert site.requests == []  # decided from the cookies: no page was loaded


async def test_check_session_is_expired_when_the_home_page_redirects_to_the_login(platform, logged_in_page, site):
    site.sessions.clear()  # Douyin ended the session: its pages redirect to the login card
    assert await platform.check_session(logged_in_page) is SessionStatus.EXPIRED
    assert logged_in_page.url == "https://creator.douyin.com/"


async def test_a_verification_check_over_the_home_page_needs_the_visible_browser(platform, logged_in_page, site):
    site.page_overlay = '<div id="captcha_container" style="width:300px;height:200px">请完成下列验证后继续</div>'
    assert await platform.check_session(logged_in_page) is SessionStatus.NEEDS_VERIFICATION


async def qr_modules(page, png: bytes, modules: int, scale: int = 4, border: int = 2) -> list[list[int]]:
    """The QR's modules as a phone camera would read them from the PNG (decoded by Chromium)."""
    return await page.evaluate("""async ([src, n, s, b]) => {
      const im = new Image(); im.src = src; await im.decode();
      const c = document.createElement('canvas'); c.width = im.width; c.height = im.height;
      const g = c.getContext('2d'); g.drawImage(im, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data, out = [];
      for (let y = 0; y < n; y++) {
        const row = [];
        for (let x = 0; x < n; x++) {
          const px = Math.floor((y + b) * s + s / 2) * c.width + Math.floor((x + b) * s + s / 2);
          row.push(d[px * 4] < 128 ? 1 : 0);
        }
        out.push(row);
      }
      return out; }""", [data_url(png), modules, scale, border])


@pytest.mark.parametrize("kind", ["data", "canvas", "url"])
async def test_the_qr_is_read_from_a_data_url_a_canvas_or_an_element_screenshot(platform, page, context, site, kind):
    site.qr_kind = kind
    io = RecordingLoginIO()
    login = asyncio.create_task(platform.login(page, io))
    reader = await context.new_page()
    expected = [[[int(v) for v in row] for row in segno.make(p, error="m").matrix] for p in QR_PAYLOADS]
    first = await io.wait_for("qr_ready")
    assert await qr_modules(reader, first["qr_png"], len(expected[0])) == expected[0]
    await page.evaluate("window.__phone.refresh()")
    refreshed = await io.wait_for("qr_refreshed")
    assert await qr_modules(reader, refreshed["qr_png"], len(expected[1])) == expected[1]
    await page.evaluate("window.__phone.scan(); window.__phone.confirm(false)")
    assert (await asyncio.wait_for(login, 30)).platform_user_id == DOUYIN_ID
    assert io.states().count("qr_refreshed") == 1  # one refresh, one report


async def test_an_expired_qr_is_refreshed_by_clicking_and_reported(platform, page):
    io = RecordingLoginIO()
    login = asyncio.create_task(platform.login(page, io))
    await io.wait_for("qr_ready")
    await page.evaluate("window.__phone.expire()")
    refreshed = await io.wait_for("qr_refreshed")  # the adapter clicked 点击刷新
    assert refreshed["qr_png"] == qr_png(QR_PAYLOADS[1])
    await page.evaluate("window.__phone.scan(); window.__phone.confirm(false)")
    assert (await asyncio.wait_for(login, 30)).username == "测试创作者"


async def test_a_login_card_without_a_qr_is_a_page_change_with_a_snapshot(platform, page, site, tmp_path):
    site.qr_kind = "none"
    platform.qr_wait_s = 1
    with pytest.raises(PageChanged, match="page changed: the QR code not found on login") as caught:
        await platform.login(page, RecordingLoginIO())
    assert "扫码登录" in (Path(caught.value.snapshot) / "page.html").read_text(encoding="utf-8")


async def test_the_avatar_the_login_read_is_fetched_through_the_accounts_context(context):
    """What the pool does after a login (app/engine/avatars.py): the avatar comes from the
    routed image server, in the account's own context; a page that is not an image is not kept."""
    assert await fetch_avatar(context, "https://example.invalid/avatar/100.jpg") == PIXEL
    assert await fetch_avatar(context, "https://creator.douyin.com/creator-micro/home") is None  # HTML
    assert await fetch_avatar(context, "javascript:alert(1)") is None
    assert len(context.pages) == 0  # its page is closed again
