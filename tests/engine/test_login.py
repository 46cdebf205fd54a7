"""LoginManager with the real pool, Chromium and the sandbox's QR login page."""
import asyncio
import re
import shutil
import subprocess

import psutil
import pytest

from app.engine.avatars import avatar_file
from app.engine.events import AccountStatusChanged, LoginProgress
from app.engine.login import LoginSessionError
from app.engine.platform import NeedsVerification
from app.platforms.sandbox import SandboxPlatform

from tests.engine.pool.harness import chromium_processes, make_rig

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]


def states(rig, session_id):
    return [e.state for e in rig.seen(LoginProgress, session_id=session_id)]


async def test_qr_login_with_sms_step_saves_the_session_and_starts_monitoring(tmp_path):
    async with make_rig(tmp_path) as rig:
        await rig.control.set_faults(sms_required=True)
        account_id = await rig.accounts.create("sandbox", "creator-a")
        session_id = await rig.logins.start(account_id)
        assert await rig.logins.start(account_id) == session_id  # one session per account
        token = await rig.qr_token(session_id)
        qr = rig.seen(LoginProgress, session_id=session_id, state="qr_ready")[0]
        assert qr.qr_png.startswith(b"\x89PNG") and qr.expires_at is not None
        assert (await rig.accounts.get(account_id)).login_status == "logging_in"

        with pytest.raises(LoginSessionError):  # nothing asked yet
            await rig.logins.submit_input(session_id, "000000")
        await rig.control.scan(token)
        await rig.control.confirm(token, "creator-a")
        await rig.until(lambda: rig.logins.session(session_id).state == "verification_required",
                        what="the SMS step")
        assert rig.logins.session(session_id).input_kind == "sms_code"
        code = (await rig.control.login(token))["sms_code"]
        await rig.logins.submit_input(session_id, code)
        await rig.until(lambda: rig.logins.session(session_id).finished, timeout=30, what="the end of the login")

        assert rig.logins.session(session_id).state == "success"
        seq = states(rig, session_id)
        assert seq[0] == "started" and seq[-1] == "success"
        assert seq.index("qr_ready") < seq.index("scanned") < seq.index("verification_required"), seq
        account = await rig.accounts.get(account_id)
        assert account.login_status == "logged_in" and account.platform_user_id
        assert (await rig.accounts.load_storage_state(account_id))["cookies"]
        # The pool picks the account up and monitors it with the saved session.
        await rig.until(lambda: rig.state_of(account_id) == "active", what="monitoring to start")


async def test_a_refused_login_reports_the_reason_and_restores_the_status(tmp_path):
    async with make_rig(tmp_path) as rig:
        await rig.control.set_faults(fail_login="账号存在风险")
        account_id = await rig.accounts.create("sandbox", "creator-b")
        session_id = await rig.logins.start(account_id)
        token = await rig.qr_token(session_id)
        await rig.control.scan(token)
        await rig.control.confirm(token, "creator-b")
        await rig.until(lambda: rig.logins.session(session_id).finished, what="the end of the login")
        session = rig.logins.session(session_id)
        assert session.state == "failed" and "账号存在风险" in session.message
        assert (await rig.accounts.get(account_id)).login_status == "not_logged_in"
        assert rig.state_of(account_id) is None  # nothing to monitor


async def test_timeout_and_cancel(tmp_path):
    async with make_rig(tmp_path, login_timeout_s=4) as rig:
        account_id = await rig.accounts.create("sandbox", "creator-c")
        session_id = await rig.logins.start(account_id)
        await rig.until(lambda: rig.logins.session(session_id).finished, timeout=15, what="the timeout")
        assert rig.logins.session(session_id).state == "timeout"

        second = await rig.logins.start(account_id)
        assert second != session_id
        await rig.qr_token(second)
        await rig.logins.cancel(second)
        await rig.delivered()
        assert rig.logins.session(second).state == "cancelled"
        assert (await rig.accounts.get(account_id)).login_status == "not_logged_in"
        statuses = [e.login_status for e in rig.seen(AccountStatusChanged, account_id=account_id)]
        assert statuses == ["logging_in", "not_logged_in", "logging_in", "not_logged_in"]


async def test_a_login_started_while_the_last_one_is_being_cancelled_is_a_new_session(tmp_path):
    """The operator closes the login dialog and opens it again at once (to log in in a
    visible browser): the new dialog gets a session of its own, not the one being ended."""
    async with make_rig(tmp_path) as rig:
        account_id = await rig.accounts.create("sandbox", "creator-g")
        first = await rig.logins.start(account_id)
        await rig.qr_token(first)
        cancelling = asyncio.get_running_loop().create_task(rig.logins.cancel(first))
        await asyncio.sleep(0)  # the cancel has begun and waits for the login to end
        second = await rig.logins.start(account_id, visible=False)
        await cancelling
        assert second != first
        assert rig.logins.session(first).state == "cancelled"
        await rig.qr_token(second)
        assert not rig.logins.session(second).finished
        await rig.logins.cancel(second)


async def test_a_visible_login_needs_a_display(tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    async with make_rig(tmp_path) as rig:
        account_id = await rig.accounts.create("sandbox", "creator-v")
        session_id = await rig.logins.start(account_id, visible=True)
        await rig.until(lambda: rig.logins.session(session_id).finished, what="the end of the login")
        session = rig.logins.session(session_id)
        assert session.state == "failed" and "needs a display" in session.message


def headed_browsers():
    """Our Chromium browser processes that show windows."""
    found = []
    for proc in chromium_processes(None):
        try:
            if "--headless" not in proc.cmdline():
                found.append(proc)
        except psutil.Error:
            continue  # exited meanwhile
    return found


async def test_a_visible_login_opens_a_browser_window(tmp_path, xvfb_display):
    async with make_rig(tmp_path) as rig:
        account_id = await rig.accounts.create("sandbox", "creator-w")
        session_id = await rig.logins.start(account_id, visible=True)
        token = await rig.qr_token(session_id)
        assert headed_browsers(), "no headed Chromium is running"
        await rig.control.confirm(token, "creator-w")
        await rig.until(lambda: rig.logins.session(session_id).finished, timeout=30, what="the login")
        assert rig.logins.session(session_id).state == "success"
        await rig.until(lambda: not headed_browsers(), what="the window to close")
        # Monitoring continues in the pool's own headless browser with the saved session.
        await rig.until(lambda: rig.state_of(account_id) == "active", what="monitoring")


def window_sizes() -> list[tuple[int, int]]:
    """The sizes of the X display's top-level windows (xwininfo), largest first."""
    listing = subprocess.run(["xwininfo", "-root", "-children"], capture_output=True, text=True,
                             check=True, timeout=10).stdout
    sizes = [tuple(int(n) for n in m.group(1, 2)) for m in re.finditer(r"\s(\d+)x(\d+)\+-?\d+\+-?\d+", listing)]
    return sorted(sizes, key=lambda size: size[0] * size[1], reverse=True)


@pytest.mark.skipif(not shutil.which("xwininfo"), reason="xwininfo is not installed")
async def test_a_visible_login_window_fits_the_operators_screen(tmp_path, xvfb_display):
    screen = (1024, 700)  # smaller than every fingerprint's viewport (1366 wide at least)
    async with make_rig(tmp_path) as rig:
        account_id = await rig.accounts.create("sandbox", "creator-s")
        session_id = await rig.logins.start(account_id, visible=True, screen=screen)
        await rig.qr_token(session_id)
        await rig.until(lambda: window_sizes() and window_sizes()[0][0] > 100, what="the browser window")
        width, height = window_sizes()[0]
        assert width <= screen[0] and height <= screen[1], (width, height)
        await rig.logins.cancel(session_id)


def cookies(storage_state: dict) -> set[tuple[str, str]]:
    return {(c["name"], c["value"]) for c in storage_state["cookies"]}


async def test_a_new_account_takes_its_first_identity_and_a_login_as_another_is_refused(tmp_path):
    async with make_rig(tmp_path) as rig:
        account_id = await rig.accounts.create("sandbox", "shop front")
        first = await rig.logins.start(account_id)
        await rig.control.confirm(await rig.qr_token(first), "creator-a")
        await rig.until(lambda: rig.logins.session(first).finished, timeout=30, what="the first login")
        assert rig.logins.session(first).state == "success"
        account = await rig.accounts.get(account_id)
        identity, saved = account.platform_user_id, await rig.accounts.load_storage_state(account_id)
        assert identity and account.platform_username == "creator-a"
        # the identity's avatar, fetched through the login's own context, is kept in the data folder
        avatar = avatar_file(rig.engine.paths.data_dir, account_id).read_bytes()
        assert avatar.startswith(b"<svg")

        again = await rig.logins.start(account_id)  # the phone confirms as another creator
        await rig.control.confirm(await rig.qr_token(again), "creator-b")
        await rig.until(lambda: rig.logins.session(again).finished, timeout=30, what="the second login")
        session = rig.logins.session(again)
        assert session.state == "failed" and session.error_code == "identity_mismatch"
        assert "creator-a" in session.message and "creator-b" in session.message
        failed = rig.seen(LoginProgress, session_id=again, state="failed")[0]
        assert failed.error_code == "identity_mismatch"  # what remote clients are told
        account = await rig.accounts.get(account_id)
        assert account.platform_user_id == identity and account.platform_username == "creator-a"
        assert account.login_status == "logged_in"  # as it was before the refused login
        assert avatar_file(rig.engine.paths.data_dir, account_id).read_bytes() == avatar  # not creator-b's
        # creator-a's session kept (the monitor may have saved it again meanwhile: same cookies)
        assert cookies(await rig.accounts.load_storage_state(account_id)) == cookies(saved)

        same = await rig.logins.start(account_id)  # the same creator again is fine
        await rig.control.confirm(await rig.qr_token(same), "creator-a")
        await rig.until(lambda: rig.logins.session(same).finished, timeout=30, what="the third login")
        assert rig.logins.session(same).state == "success"


class VerifyingSandbox(SandboxPlatform):
    """The sandbox, except that its login ends in a check only a visible browser can pass (a
    slider), as Douyin's can."""

    async def login(self, page, io):
        raise NeedsVerification("slide the puzzle piece into place in the visible browser")


async def test_a_login_held_for_a_check_says_why_without_a_traceback(tmp_path, caplog):
    async with make_rig(tmp_path, platform=VerifyingSandbox()) as rig:
        account_id = await rig.accounts.create("sandbox", "creator-check")
        session_id = await rig.logins.start(account_id)
        await rig.until(lambda: rig.logins.session(session_id).finished, what="the end of the login")
        session = rig.logins.session(session_id)
        assert (session.state, session.error_code) == ("failed", "needs_verification")
        assert session.message == "slide the puzzle piece into place in the visible browser"
        assert not [r for r in caplog.records if r.exc_info]
