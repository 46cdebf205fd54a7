"""A login run by a remote worker, seen through the engine's login session as the console's
login dialog sees it: QR image, scanned, SMS code asked and typed back, success with the
session saved; a failure with the worker's reason; the operator's cancel reaches the worker."""
import base64

import pytest

from app.engine.accounts import IdentityMismatch
from app.engine.avatars import avatar_file, to_data_url
from app.engine.events import LoginProgress

from tests.server.worker_link.harness import FakeWorkerSocket, make_master, until

pytestmark = pytest.mark.timeout(60)
PNG = b"\x89PNG\r\n\x1a\n" + b"qr-image-bytes"
AVATAR = b"\xff\xd8\xff" + b"jpeg-avatar-bytes"


async def _setup(master, name):
    account_id = await master.engine.accounts.create("sandbox", name)
    worker = FakeWorkerSocket(f"w-{name}")
    await worker.connect(master.url)
    await worker.register()
    progress = []
    master.engine.bus.subscribe(LoginProgress, progress.append)
    return account_id, worker, progress


def _state(progress, session_id, state):
    return next((e for e in progress if e.session_id == session_id and e.state == state), None)


async def test_a_relayed_login_shows_the_qr_code_asks_for_the_sms_code_and_saves_the_session(tmp_path):
    async with make_master(tmp_path) as master:
        account_id, worker, progress = await _setup(master, "creator-qr")
        try:
            session_id = await master.engine.logins.start(account_id)
            start = await worker.next_event("master:login:start")
            assert (start["account_id"], start["platform"], start["proxy"], start["visible"]) == (
                account_id, "sandbox", None, False)
            remote_session = start["session_id"]

            async def status(**body):
                await worker.sio.emit("worker:login:status", {"session_id": remote_session, "account_id": account_id,
                                                              **body}, namespace="/worker")

            await status(status="qrcode_ready", qr_code_data="data:image/png;base64," + base64.b64encode(PNG).decode(),
                         expires_at=4_102_444_800, login_method="qrcode")
            shown = await until(lambda: _state(progress, session_id, "qr_ready"), what="the QR code shown")
            assert shown.qr_png == PNG and shown.expires_at.year == 2100
            await status(status="scanning", message="scanned on the phone")
            await until(lambda: _state(progress, session_id, "scanned"), what="scanned")
            await status(status="sms_input_required", login_method="sms", step="verification_code",
                         message="Enter the code sent to 138****0000")
            asked = await until(lambda: _state(progress, session_id, "verification_required"), what="the code asked")
            assert asked.input_kind == "sms_code" and "138****0000" in asked.message
            await master.engine.logins.submit_input(session_id, "246810")
            typed = await worker.next_event("master:login:user_input")
            assert typed == {"session_id": remote_session, "input_type": "verification_code", "value": "246810"}

            storage = {"cookies": [{"name": "sessionid", "value": "abc", "domain": "127.0.0.1"}], "origins": []}
            await status(status="success", platform_user_id="sandbox-uid-7", storage_state=storage,
                         user_info={"nickname": "Creator QR", "avatar": "http://127.0.0.1/a.png"},
                         avatar_data=to_data_url(AVATAR))
            await until(lambda: master.engine.logins.session(session_id).state == "success", what="success")
            account = await master.engine.accounts.get(account_id)
            assert (account.login_status, account.platform_user_id, account.platform_username) == (
                "logged_in", "sandbox-uid-7", "Creator QR")
            assert await master.engine.accounts.load_storage_state(account_id) == storage
            # the avatar the worker fetched in the account's context, kept for the accounts list
            assert avatar_file(master.engine.paths.data_dir, account_id).read_bytes() == AVATAR
            wake = await worker.next_message("master:account:wake")  # poll it now, as the local pool would
            assert wake["payload"] == {"account_id": account_id}
        finally:
            await worker.close()


async def test_a_failed_relayed_login_says_the_workers_reason(tmp_path):
    async with make_master(tmp_path) as master:
        account_id, worker, progress = await _setup(master, "creator-fail")
        try:
            session_id = await master.engine.logins.start(account_id)
            start = await worker.next_event("master:login:start")
            await worker.sio.emit("worker:login:status", {
                "session_id": start["session_id"], "account_id": account_id, "status": "failed",
                "error_message": "QR code expired twice", "error_type": "qr_code_expired"}, namespace="/worker")
            await until(lambda: master.engine.logins.session(session_id).finished, what="the login ended")
            session = master.engine.logins.session(session_id)
            assert session.state == "failed" and session.message == "QR code expired twice"
            assert (await master.engine.accounts.get(account_id)).login_status == "not_logged_in"
        finally:
            await worker.close()


async def test_a_login_the_worker_refused_keeps_its_failure_code_for_the_dialog(tmp_path):
    """The console's login dialog words an identity mismatch itself (error_code), as after
    a local login: the code crosses the link, not just the sentence."""
    async with make_master(tmp_path) as master:
        account_id, worker, progress = await _setup(master, "creator-other")
        try:
            session_id = await master.engine.logins.start(account_id)
            start = await worker.next_event("master:login:start")
            refusal = str(IdentityMismatch("Creator A (@a)", "Creator B (@b)"))
            await worker.sio.emit("worker:login:status", {
                "session_id": start["session_id"], "account_id": account_id, "status": "failed",
                "error_message": refusal, "error_type": "identity_mismatch"}, namespace="/worker")
            failed = await until(lambda: _state(progress, session_id, "failed"), what="the login refused")
            assert (failed.error_code, failed.message) == ("identity_mismatch", refusal)
            assert master.engine.logins.session(session_id).error_code == "identity_mismatch"
        finally:
            await worker.close()


async def test_closing_the_dialog_cancels_the_workers_login(tmp_path):
    async with make_master(tmp_path) as master:
        account_id, worker, progress = await _setup(master, "creator-cancel")
        try:
            session_id = await master.engine.logins.start(account_id)
            start = await worker.next_event("master:login:start")
            await master.engine.logins.cancel(session_id)
            cancel = await worker.next_event("master:login:cancel")
            assert cancel == {"session_id": start["session_id"]}
            assert master.engine.logins.session(session_id).state == "cancelled"
        finally:
            await worker.close()


async def test_the_originals_legacy_login_events_drive_the_session_too(tmp_path):
    async with make_master(tmp_path) as master:
        account_id, worker, progress = await _setup(master, "creator-legacy")
        try:
            session_id = await master.engine.logins.start(account_id)
            start = await worker.next_event("master:login:start")
            qr = "data:image/png;base64," + base64.b64encode(PNG).decode()
            await worker.sio.emit("worker:login:qrcode:ready", {
                "account_id": account_id, "session_id": start["session_id"], "qr_code_data": qr}, namespace="/worker")
            await until(lambda: _state(progress, session_id, "qr_ready"), what="the QR code shown")
            await worker.sio.emit("worker:login:success", {  # a profile refresh (no session): not a login
                "account_id": account_id, "user_info": {"nickname": "x"}}, namespace="/worker")
            await worker.sio.emit("worker:login:success", {
                "account_id": account_id, "session_id": start["session_id"], "cookies_valid_until": 4_102_444_800,
                "user_info": {"nickname": "Legacy", "uid": "legacy-uid"},
                "cookies": [{"name": "sessionid", "value": "old-style", "domain": "127.0.0.1"}]}, namespace="/worker")
            await until(lambda: master.engine.logins.session(session_id).state == "success", what="success")
            assert (await master.engine.accounts.get(account_id)).platform_user_id == "legacy-uid"
            state = await master.engine.accounts.load_storage_state(account_id)
            assert state == {"cookies": [{"name": "sessionid", "value": "old-style", "domain": "127.0.0.1"}],
                             "origins": []}
        finally:
            await worker.close()


async def test_a_workers_avatar_that_is_no_image_is_not_kept_and_the_login_succeeds(tmp_path):
    async with make_master(tmp_path) as master:
        account_id, worker, progress = await _setup(master, "creator-avatar")
        try:
            session_id = await master.engine.logins.start(account_id)
            remote_session = (await worker.next_event("master:login:start"))["session_id"]
            await worker.sio.emit("worker:login:status", {
                "session_id": remote_session, "account_id": account_id, "status": "success",
                "platform_user_id": "uid-9", "storage_state": {"cookies": [], "origins": []},
                "avatar_data": "data:text/html;base64," + base64.b64encode(b"<script>x</script>").decode()},
                namespace="/worker")
            await until(lambda: master.engine.logins.session(session_id).state == "success", what="success")
            assert not avatar_file(master.engine.paths.data_dir, account_id).exists()
        finally:
            await worker.close()
