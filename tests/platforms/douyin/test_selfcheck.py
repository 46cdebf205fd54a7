"""The live self-check against the routed creator centre, and where Douyin is unreachable."""
from __future__ import annotations

import json

import pytest

from app.engine.platform import PlatformRuntime
from app.platforms.douyin import DouyinPlatform
from app.platforms.douyin.selfcheck import run_self_check, write_report

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120), pytest.mark.asyncio(loop_scope="module")]


async def test_the_check_lists_what_each_page_matched_and_the_endpoints_seen(logged_in_page, tmp_path):
    report = await run_self_check(logged_in_page)
    assert report["reachable"] is True and "message" not in report
    pages = {p["page"]: p for p in report["pages"]}
    assert list(pages) == ["home", "works", "comments", "chat", "realtime"]
    assert all(p["logged_in"] for p in pages.values())
    assert pages["realtime"]["selectors"]["ready"]['[data-e2e="im-entry"]'] == 1  # and its stores were found
    assert pages["home"]["selectors"]["unique_id"]['[class*="unique_id"]'] == 1
    assert pages["chat"]["selectors"]["list_scroller"][".ReactVirtualized__Grid"] == 1
    assert pages["comments"]["texts"]["pick_work"] == ["选择作品"]
    assert report["endpoints_seen"]["janus_work_list"] >= 1 and report["endpoints_seen"]["im_user_detail"] >= 1
    assert "item_list" in report["endpoints_not_seen"]  # the V1 works API was not called
    assert report["missing"] == []
    saved = write_report(report, tmp_path)
    assert json.loads(saved.read_text(encoding="utf-8"))["pages"][0]["page"] == "home"


async def test_a_changed_page_shows_as_missing(logged_in_page, site, tmp_path):
    site.comment_page_html = "<!doctype html><html><body><p>新版评论管理</p></body></html>"
    report = await run_self_check(logged_in_page)
    assert report["missing"] == ["comments: the ready marker"]
    # What the account menu's check hands the console: the verdict, a few lines, the report.
    platform = DouyinPlatform()
    await platform.startup(PlatformRuntime(data_dir=tmp_path, settings=None))
    found = await platform.self_check(logged_in_page)
    assert not found.ok and "missing: comments: the ready marker" in found.lines
    assert found.lines[0] == "home: logged in" and found.report_file.parent == tmp_path / "douyin"
    assert json.loads(found.report_file.read_text(encoding="utf-8"))["missing"] == ["comments: the ready marker"]


async def test_a_www_page_without_its_stores_shows_as_missing(logged_in_page, site):
    site.www_page_html = '<!doctype html><html><body><div data-e2e="im-entry">私信</div></body></html>'
    report = await run_self_check(logged_in_page)
    assert [m for m in report["missing"] if m.startswith("realtime:")] == [
        'realtime: the imStore (React props above [data-e2e="im-entry"], [class*="im-entry"])',
        'realtime: the noticeStore (React props above [data-e2e="im-entry"], #pushListBoxId)']


async def test_a_logged_out_account_is_told_to_log_in(page):
    report = await run_self_check(page)
    assert "not logged in" in report["message"] and len(report["pages"]) == 1


async def test_without_internet_the_check_says_so(browser):
    context = await browser.new_context()
    await context.route("https://creator.douyin.com/**", lambda route: route.abort("internetdisconnected"))
    try:
        report = await run_self_check(await context.new_page())
    finally:
        await context.close()
    assert report["reachable"] is False and "could not be reached" in report["message"]
    assert "ERR_INTERNET_DISCONNECTED" in report["message"]
