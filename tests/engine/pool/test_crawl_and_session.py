"""The pool around a streamed crawl and the session's fate: a work too big for one call
timeout is stored page by page; a session that ends (expired, held for verification,
blocked) is acted on at once and recorded faithfully; a session that cannot be saved is
an error the operator sees."""
import pytest
from sqlalchemy import func, select

from app.engine.events import AccountStatusChanged, Notification
from app.engine.store.models import Comment

from tests.engine.pool.harness import make_rig

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


async def _stored_comments(rig, account_id):
    return await rig.db.read(lambda s: s.scalar(select(func.count()).select_from(Comment)
                                                .where(Comment.account_id == account_id)))


async def test_a_work_bigger_than_one_call_timeout_is_stored(tmp_path):
    """150 comment threads take far longer to crawl than the 5 s call timeout (about half a
    minute): each page is stored as it is read, and the time limit is per step, so everything
    arrives."""
    async with make_rig(tmp_path, call_timeout_s=5.0) as rig:
        await rig.control.ensure_creator("creator-big")
        work_id = (await rig.control.works("creator-big"))[0]["work_id"]
        await rig.control.inject_bulk("creator-big", work_id, threads=150, replies=1)
        on_site = len(await rig.control.comments("creator-big"))
        assert on_site > 300
        account_id = await rig.login("creator-big")
        await rig.until(lambda: _has_all(rig, account_id, on_site), timeout=150, what="every comment stored")
        account = await rig.accounts.get(account_id)
        assert account.login_status == "logged_in"


async def _has_all(rig, account_id, count):
    return await _stored_comments(rig, account_id) >= count


@pytest.mark.parametrize("standing, status", [("verify", "needs_verification"), ("blocked", "blocked")])
async def test_a_held_or_blocked_account_gets_that_status(tmp_path, standing, status):
    async with make_rig(tmp_path) as rig:
        account_id = await rig.login(f"creator-{standing}")
        await rig.until(lambda: rig.stat(account_id, "cycles", 0) >= 1, timeout=60, what="the first cycle")
        await rig.control.set_standing(f"creator-{standing}", standing)
        await rig.until(lambda: rig.seen(AccountStatusChanged, account_id=account_id, login_status=status),
                        what=f"the {status} status")
        assert (await rig.accounts.get(account_id)).login_status == status
        [note] = rig.seen(Notification, account_id=account_id)
        assert note.level == "warning"
        await rig.until(lambda: rig.state_of(account_id) is None, what="monitoring to stop")


async def test_a_pushed_session_expiry_is_acted_on_before_the_next_poll(tmp_path):
    async with make_rig(tmp_path, poll_interval_min_s=600, poll_interval_max_s=600) as rig:
        account_id = await rig.login("creator-pushed")
        await rig.until(lambda: rig.stat(account_id, "cycles", 0) >= 1, timeout=60, what="the first cycle")
        await rig.until(lambda: rig.state_of(account_id) == "active", what="awake between polls")
        await rig.control.expire_sessions("creator-pushed")
        await rig.until(lambda: rig.seen(AccountStatusChanged, account_id=account_id, login_status="expired"),
                        timeout=15, what="the expiry, long before the next poll")


async def test_when_marking_expired_fails_the_monitor_keeps_the_database_s_view(tmp_path, monkeypatch):
    async with make_rig(tmp_path, poll_interval_min_s=1.0, poll_interval_max_s=1.0) as rig:
        account_id = await rig.login("creator-unwritable")
        await rig.until(lambda: rig.stat(account_id, "cycles", 0) >= 1, timeout=60, what="the first cycle")
        real = rig.accounts.set_login_status
        failures = []

        async def failing_once(*args, **kwargs):
            if not failures:
                failures.append(args)
                raise OSError("disk full")
            await real(*args, **kwargs)

        monkeypatch.setattr(rig.accounts, "set_login_status", failing_once)
        await rig.control.expire_sessions("creator-unwritable")
        await rig.until(lambda: failures, what="the failed write")
        monitor = rig.pool._monitors[account_id]
        assert monitor.account.login_status == (await rig.accounts.get(account_id)).login_status == "logged_in"
        assert "recording it failed" in (monitor.last_error or "")
        # The next cycle sees the logged-out page again and records it this time.
        await rig.until(lambda: _status_is(rig, account_id, "expired"), what="expired at the retry")


async def _status_is(rig, account_id, status):
    return (await rig.accounts.get(account_id)).login_status == status


async def test_a_session_that_cannot_be_saved_is_an_error_the_operator_sees(tmp_path, monkeypatch):
    async with make_rig(tmp_path, poll_interval_min_s=600, poll_interval_max_s=600) as rig:
        account_id = await rig.login("creator-unsaved")
        await rig.until(lambda: rig.state_of(account_id) == "active", what="awake")

        async def refuse(account_id, state):
            raise OSError("read-only file system")

        monkeypatch.setattr(rig.accounts, "save_storage_state", refuse)
        # A push moves the page's saved state (its last sync time), so closing has to save.
        await rig.control.inject_dm("Ivy", "hello", creator="creator-unsaved")
        await rig.until(lambda: _has_text(rig, account_id, "hello"), what="the DM")
        await rig.pool.stop()
        [note] = [n for n in rig.seen(Notification, account_id=account_id) if n.level == "error"]
        assert "could not be saved" in note.body and "read-only file system" in note.body
        assert rig.seen(AccountStatusChanged, account_id=account_id)[-1].error.startswith("could not save")


async def _has_text(rig, account_id, text):
    return text in await rig.texts(account_id)
