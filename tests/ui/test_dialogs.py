"""The console's dialogs against a real engine: accounts, settings, proxies, workers, login."""
from __future__ import annotations

import asyncio
import json

import aiohttp

import pytest
import shiboken6
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QColor, QDesktopServices, QImage
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from app.engine.avatars import save_avatar
from app.engine.engine import Engine
from app.engine.platform import LoginOutcome
from app.engine.settings import Settings, load_settings
from app.ui.dialogs.accounts import COLUMNS, AccountsDialog
from app.ui.dialogs.login import LoginDialog
from app.ui.dialogs.proxies import ProxiesDialog
from app.ui.dialogs.settings import SettingsDialog
from app.ui.dialogs.workers import WorkersDialog
from app.ui.look import follow_settings
from app.ui.theme import current_theme
from .conftest import run, wait_until


def rows(dialog) -> list[list[str]]:
    table = dialog.table
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


# ---- Accounts -------------------------------------------------------------------------------
def test_accounts_dialog_adds_disables_and_deletes_with_confirmation(engine, qloop, shown):
    dialog = shown(AccountsDialog(engine))
    dialog.add_button.click()
    form = dialog.add_form
    assert [form.platform_combo.itemData(i) for i in range(form.platform_combo.count())] == \
        engine.platforms.names()
    form.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert form.error_label.isVisible() and "name" in form.error_label.text()  # nothing created
    form.name_edit.setText("  Shop front desk  ")
    form.buttons.button(QDialogButtonBox.StandardButton.Ok).click()

    # The new account is listed and its login starts at once.
    wait_until(qloop, lambda: dialog.login_dialog is not None)
    login = dialog.login_dialog
    [account] = run(qloop, engine.accounts.list())
    assert account.display_name == "Shop front desk" and login.account_id == account.id
    login.reject()  # a new account that did not log in: keep it or remove it?
    answer(login.keep_box, "Keep account")
    wait_until(qloop, lambda: dialog.table.rowCount() == 1)
    monitoring = COLUMNS.index("monitoring")
    assert rows(dialog)[0][0] == "Shop front desk" and rows(dialog)[0][monitoring] != "Off"
    # The id `hiscrm db export` also takes, in the last column.
    assert dialog.table.horizontalHeaderItem(dialog.table.columnCount() - 1).text() == "ID"
    assert rows(dialog)[0][-1] == account.id

    # Pause monitoring: the row and the engine agree.
    dialog.select_account(account.id)
    assert dialog.monitor_button.text() == "Pause monitoring"
    dialog.monitor_button.click()
    wait_until(qloop, lambda: rows(dialog)[0][monitoring] == "Off")
    assert run(qloop, engine.accounts.get(account.id)).monitor_enabled is False
    assert dialog.monitor_button.text() == "Resume monitoring"

    # Delete asks first; Cancel keeps the account, Delete removes it.
    dialog.delete_button.click()
    box = dialog.confirm_box
    assert box.isVisible() and "Shop front desk" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    wait_until(qloop, lambda: dialog.confirm_box is None)
    assert len(run(qloop, engine.accounts.list())) == 1
    dialog.delete_button.click()
    dialog.confirm_box.button(QMessageBox.StandardButton.Yes).click()
    wait_until(qloop, lambda: dialog.table.rowCount() == 0)
    assert run(qloop, engine.accounts.list()) == []
    dialog.reject()


def answer(box: QMessageBox, text: str) -> None:
    assert box is not None and box.isVisible()
    [button] = [b for b in box.buttons() if b.text() == text]
    button.click()


def test_giving_up_the_login_of_a_new_account_can_remove_it(engine, qloop, shown):
    account_id = run(qloop, engine.accounts.create("sandbox", "Trial shop"))
    login = shown(LoginDialog(engine, account_id, new_account=True))
    wait_until(qloop, lambda: login.account_name == "Trial shop")
    login.cancel_button.click()
    assert "Trial shop" in login.keep_box.text()
    answer(login.keep_box, "Remove account")

    async def removed() -> None:
        while await engine.accounts.get(account_id) is not None:
            await asyncio.sleep(0.05)

    run(qloop, removed(), timeout=10)

    kept = run(qloop, engine.accounts.create("sandbox", "Kept shop"))
    login = shown(LoginDialog(engine, kept))  # an existing account: closing asks nothing
    login.cancel_button.click()
    assert login.keep_box is None
    assert run(qloop, engine.accounts.get(kept)) is not None


# ---- Settings -------------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["file", "keyring"])
def test_settings_say_when_sessions_are_protected_by_file_permissions_only(home, qloop, shown, source):
    from cryptography.fernet import Fernet

    from app.engine.paths import app_paths
    from app.engine.secrets import SecretBox

    engine = Engine.create(app_paths(home), Settings(), start_browsers=False,
                           secrets=SecretBox(Fernet.generate_key(), source=source))
    run(qloop, engine.open())
    try:
        dialog = shown(SettingsDialog(engine))
        assert dialog.key_hint.isVisible() == (source == "file")
        assert "file permissions only" in dialog.key_hint.text()
        dialog.reject()
    finally:
        run(qloop, engine.stop())


def test_settings_are_saved_reloaded_and_applied_live(engine, qloop, qtbot, shown, language):
    unfollow = follow_settings(engine.bus)  # as the main window does
    dialog = shown(SettingsDialog(engine))
    assert dialog.data_dir.text() == str(engine.paths.data_dir) and dialog.data_dir.isReadOnly()
    dialog.poll_min.setValue(40)  # above the old maximum: the maximum moves first
    dialog.poll_max.setValue(90)
    dialog.concurrency.setValue(3)
    dialog.language.setCurrentIndex(dialog.language.findData("zh_CN"))
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.do_not_disturb.setChecked(True)
    with qtbot.waitSignal(dialog.saved):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()

    saved = load_settings(engine.paths.settings_file)
    assert (saved.poll_interval_min_s, saved.poll_interval_max_s, saved.max_active_pages) == (40, 90, 3)
    assert (saved.language, saved.theme, saved.do_not_disturb) == ("zh_CN", "dark", True)
    assert engine.settings.poll_interval_min_s == 40 and engine.settings.do_not_disturb  # live
    # The change is announced: "open pages at most" applies now, not at the next start, and the
    # look follows.
    wait_until(qloop, lambda: engine.pool.status().max_active_pages == 3 and current_theme() == "dark")
    unfollow()

    # Reopened, it shows what was saved, in Chinese.
    again = shown(SettingsDialog(engine))
    assert again.windowTitle() == "设置"
    assert again.buttons.button(QDialogButtonBox.StandardButton.Save).text() == "保存"
    assert (again.poll_min.value(), again.poll_max.value(), again.concurrency.value()) == (40, 90, 3)
    assert again.language.currentData() == "zh_CN" and again.do_not_disturb.isChecked()


@pytest.mark.parametrize("url", ["mysql://user@host/crm", "not a url", "postgresql+psycopg://host"])
def test_settings_reject_a_bad_database_url_and_write_nothing(engine, qloop, shown, url):
    dialog = shown(SettingsDialog(engine))
    dialog.database_url.setText(url)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert dialog.isVisible()
    assert dialog.error_label.isVisible() and "database URL is not valid" in dialog.error_label.text()
    assert dialog.database_url.property("invalid") is True
    assert not engine.paths.settings_file.exists()
    assert engine.settings.database_url == ""

    # A valid PostgreSQL URL is accepted (used from the next start).
    dialog.database_url.setText("postgresql+psycopg://crm:secret@127.0.0.1:5432/crm")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert json.loads(engine.paths.settings_file.read_text())["database_url"].endswith("/crm")


def test_settings_reject_an_impossible_poll_range(engine, qloop, shown):
    dialog = shown(SettingsDialog(engine))
    dialog.poll_min.setValue(60)
    dialog.poll_max.setValue(20)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert dialog.isVisible() and "poll interval" in dialog.error_label.text()
    assert not engine.paths.settings_file.exists()


# ---- Proxies and workers --------------------------------------------------------------------
def test_proxies_dialog_adds_tests_assigns_and_deletes(engine, qloop, shown):
    account_id = run(qloop, engine.accounts.create("sandbox", "Desk"))
    dialog = shown(ProxiesDialog(engine))
    dialog.add_button.click()
    assert "host:port" in dialog.error_label.text()  # nothing to add yet
    dialog.name_edit.setText("Office")
    dialog.server_edit.setText("127.0.0.1:9")  # nothing listens on the discard port here
    dialog.password_edit.setText("s3cret")
    dialog.add_button.click()
    wait_until(qloop, lambda: dialog.table.rowCount() == 1)
    assert rows(dialog)[0][:3] == ["Office", "127.0.0.1:9", "http"] and "🔒" in rows(dialog)[0][3]
    assert dialog.password_edit.text() == ""

    dialog.table.selectRow(0)
    dialog.test_button.click()
    wait_until(qloop, lambda: rows(dialog)[0][4].startswith("Unreachable"))

    wait_until(qloop, lambda: dialog.account_combo.count() == 1)
    dialog.assign_combo.setCurrentIndex(1)
    dialog.assign_button.click()
    proxy_id = (run(qloop, engine.accounts.list_proxies()))[0].id
    wait_until(qloop, lambda: dialog.accounts and dialog.accounts[0].proxy_id == proxy_id)

    dialog.table.selectRow(0)
    dialog.delete_button.click()
    dialog.confirm_box.button(QMessageBox.StandardButton.Yes).click()
    wait_until(qloop, lambda: dialog.table.rowCount() == 0)
    assert (run(qloop, engine.accounts.get(account_id))).proxy_id is None


def test_workers_dialog_says_when_browsers_are_off(engine, qloop, shown):
    dialog = shown(WorkersDialog(engine))
    assert dialog.browser.text() == "Browsers are switched off for this run"
    assert dialog.pages.text() == f"0 of at most {engine.settings.max_active_pages}"


def test_workers_dialog_says_why_monitoring_failed_in_the_operator_s_language(engine, qloop, shown, language):
    from app.engine.pool.status import AccountState, MemorySample, PoolStatus
    from app.ui.dialogs.workers import COLUMNS as WORKER_COLUMNS

    sentence = "TransientError: poll made no progress for 45 s"
    dialog = shown(WorkersDialog(engine))
    dialog.status = PoolStatus(True, True, "146.0", 1, 1, 8, 1, MemorySample(), accounts=(
        AccountState("acc-1", "backoff", True, last_error=sentence, last_error_code="transient", failures=2),))
    dialog._show()
    cell = dialog.table.item(0, WORKER_COLUMNS.index("error"))
    assert cell.text() == "the platform could not be reached or was slow; it retries by itself"
    assert shown_as(cell.toolTip()) == sentence  # the engine's own words, for support
    language("zh_CN")
    dialog._show()
    assert dialog.table.item(0, WORKER_COLUMNS.index("error")).text() == "无法连接平台或平台响应太慢；会自动重试"


def test_workers_dialog_lists_remote_workers_and_follows_their_state(engine, qloop, shown, language):
    from dataclasses import replace
    from datetime import datetime, timezone

    from app.engine.workers import WorkerInfo

    account_id = run(qloop, engine.accounts.create("sandbox", "Shop East"))
    dialog = shown(WorkersDialog(engine))
    assert dialog.remote_empty.isVisible() and not dialog.remote_table.isVisible()
    # What the server's worker link reports when a worker registers and beats.
    engine.remote_workers.report(WorkerInfo(
        id="w-east", remote=True, state="online", host="10.0.0.7", max_accounts=5, accounts=(account_id,),
        memory_mb=321.4, last_heartbeat=datetime.now(timezone.utc), account_states={account_id: "hibernating"}))
    wait_until(qloop, lambda: dialog.remote_table.rowCount() == 1 and dialog.remote_table.isVisible()
               and dialog.remote_table.item(0, 3).text().startswith("Shop East"))  # names are read meanwhile
    cells = [dialog.remote_table.item(0, c).text() for c in range(dialog.remote_table.columnCount())]
    assert cells[:5] == ["w-east", "10.0.0.7", "Online", "Shop East (Hibernating) (at most 5)", "321 MB"]
    assert cells[5] != "—"
    engine.remote_workers.report(replace(engine.remote_workers.get("w-east"), state="offline"))  # it went away
    wait_until(qloop, lambda: dialog.remote_table.item(0, 2).text() == "Offline")

    language("zh_CN")
    wait_until(qloop, lambda: dialog.remote_table.item(0, 2).text() == "离线")
    assert dialog.remote_title.text() == "远程工作节点"


# ---- Login (real Chromium against the sandbox site) ------------------------------------------
def wait_for_login_status(engine, qloop, account_id: str, status: str, timeout: float = 10) -> None:
    """The account's stored login status becomes `status` (the engine restores it just after
    it reports the session's end)."""

    async def poll() -> None:
        while (await engine.accounts.get(account_id)).login_status != status:
            await asyncio.sleep(0.05)

    run(qloop, poll(), timeout)


def open_login(engine, qloop, shown, **faults) -> tuple[LoginDialog, dict]:
    """A login dialog for a new account, showing the sandbox's QR code; returns the dialog and
    the site's QR ticket (what the phone scans)."""
    control = engine.platforms.get("sandbox").control
    if faults:
        run(qloop, control.set_faults(**faults))
    account_id = run(qloop, engine.accounts.create("sandbox", "Desk"))
    dialog = shown(LoginDialog(engine, account_id))
    wait_until(qloop, lambda: dialog.state == "qr_ready", timeout=30)
    return dialog, run(qloop, control.wait_for_qr())


@pytest.mark.browser
def test_login_dialog_shows_qr_scan_sms_and_success(browser_engine, qloop, qtbot, shown):
    engine = browser_engine
    control = engine.platforms.get("sandbox").control
    dialog, ticket = open_login(engine, qloop, shown, sms_required=True)
    assert not dialog.qr.pixmap().isNull() and dialog.qr.pixmap().width() > 100
    assert dialog.status.text() == "Scan the QR code with the platform's mobile app"
    assert dialog.detail.text().startswith("Expires in ")
    assert dialog.verification.isHidden()

    run(qloop, control.scan(ticket["token"]))
    wait_until(qloop, lambda: dialog.state == "scanned", timeout=20)
    assert dialog.status.text() == "Scanned: confirm the login on the phone"
    assert "scanned" not in dialog.detail.text().lower()  # not the platform's "已扫码 scanned"

    run(qloop, control.confirm(ticket["token"], "Desk creator"))
    wait_until(qloop, lambda: dialog.state == "verification_required", timeout=20)
    assert dialog.verification.isVisible() and dialog.code_edit.placeholderText() == "SMS code"
    code = run(qloop, control.login(ticket["token"]))["sms_code"]
    qtbot.keyClicks(dialog.code_edit, code)
    dialog.submit_button.click()
    assert dialog.status.text() == "Verifying…" and dialog.verification.isHidden()

    wait_until(qloop, lambda: dialog.state == "success", timeout=30)
    assert dialog.status.text() == "Logged in"
    assert dialog.qr.pixmap().isNull() and dialog.qr.text() == "✓"  # no code left to scan
    account_id = dialog.account_id
    wait_until(qloop, lambda: not shiboken6.isValid(dialog), timeout=5)  # closes itself
    wait_for_login_status(engine, qloop, account_id, "logged_in")


class UrlCatcher(QObject):
    """Where QDesktopServices.openUrl sends http URLs during a test (instead of a browser)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open_url(self, url: QUrl) -> None:
        self.urls.append(url.toString())


@pytest.mark.browser
def test_sandbox_login_offers_simulate_scan_which_opens_the_phone_page(browser_engine, qloop, shown):
    engine = browser_engine
    dialog, ticket = open_login(engine, qloop, shown)
    wait_until(qloop, lambda: dialog.simulate_button.isVisible())
    assert dialog.simulate_button.text() == "Simulate scan"
    assert "Simulate scan" in dialog.detail.text()
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("http", catcher, "open_url")
    try:
        dialog.simulate_button.click()
    finally:
        QDesktopServices.unsetUrlHandler("http")
    [url] = catcher.urls
    assert url == dialog.qr_url and "/phone/scan?token=" in url and ticket["token"] in url

    async def be_the_phone() -> tuple[int, str]:
        """What a browser does with the URL: load the phone page, whose script reports the scan."""
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as page:
                loaded = page.status, await page.text()
            origin = url.split("/phone/", 1)[0]
            async with http.post(f"{origin}/api/phone/scan", json={"token": ticket["token"]}) as scan:
                assert (await scan.json())["status_code"] == 0
        return loaded

    status, html = run(qloop, be_the_phone())
    assert status == 200 and "phone.js" in html
    wait_until(qloop, lambda: dialog.state == "scanned", timeout=20)
    assert dialog.simulate_button.isHidden()


@pytest.mark.browser
def test_login_dialog_shows_why_a_login_failed(browser_engine, qloop, qtbot, shown):
    engine = browser_engine
    control = engine.platforms.get("sandbox").control
    dialog, ticket = open_login(engine, qloop, shown, fail_login="account banned by risk control")
    run(qloop, control.confirm(ticket["token"], "Desk creator"))
    wait_until(qloop, lambda: dialog.state == "failed", timeout=30)
    assert dialog.status.text() == "Login failed"
    assert "account banned by risk control" in dialog.status.toolTip()  # the engine's words
    assert dialog.detail.text().startswith("Try again")
    assert dialog.retry_button.isVisible() and dialog.cancel_button.text() == "Close"
    account_id = dialog.account_id
    wait_for_login_status(engine, qloop, account_id, "not_logged_in")


@pytest.mark.browser
def test_login_dialog_refuses_a_login_as_another_platform_account(browser_engine, qloop, qtbot, shown):
    engine = browser_engine
    control = engine.platforms.get("sandbox").control
    account_id = run(qloop, engine.accounts.create("sandbox", "Desk"))
    run(qloop, engine.accounts.record_login(account_id, LoginOutcome("u-owner", "Shop owner")))
    dialog = shown(LoginDialog(engine, account_id))
    wait_until(qloop, lambda: dialog.state == "qr_ready", timeout=30)
    ticket = run(qloop, control.wait_for_qr())
    run(qloop, control.confirm(ticket["token"], "Someone else"))
    wait_until(qloop, lambda: dialog.state == "failed", timeout=30)
    assert dialog.status.text() == "Login refused: another platform account"
    assert dialog.qr.pixmap().isNull()  # no code left to scan: Retry starts a new one
    assert dialog.detail.text() == ("This account belongs to Shop owner on the platform; the phone confirmed "
                                    "another one. Log in as Shop owner, or add a new account for the other one.")
    account = run(qloop, engine.accounts.get(account_id))
    assert account.platform_user_id == "u-owner" and account.platform_username == "Shop owner"


def shown_as(tooltip: str) -> str:
    """What a tooltip reads on screen: Qt renders it as rich text when it looks like HTML."""
    from PySide6.QtGui import Qt as QtNamespace  # mightBeRichText lives in QtGui
    from PySide6.QtGui import QTextDocument

    document = QTextDocument()
    if QtNamespace.mightBeRichText(tooltip):
        document.setHtml(tooltip)
    else:
        document.setPlainText(tooltip)
    return document.toPlainText()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_selected_account_row_is_one_even_band(engine, qloop, qapp, shown, theme):
    """The selected row's cells were drawn apart (a grid gap between them) and its current cell
    framed in another shade: a light block over the account's name."""
    from PySide6.QtGui import QColor

    from app.ui.theme import apply_theme

    apply_theme(qapp, Settings(theme=theme))
    try:
        account = run(qloop, engine.accounts.create("sandbox", "演示账号 A"))
        dialog = shown(AccountsDialog(engine))
        wait_until(qloop, lambda: dialog.table.rowCount() == 1)
        dialog.select_account(account)
        dialog.table.setFocus()
        qapp.processEvents()
        image = dialog.table.viewport().grab().toImage()
        band = dialog.table.visualRect(dialog.table.model().index(0, 0))
        highlight = dialog.table.palette().highlight().color().rgb()
        for y in (band.top() + 1, band.bottom() - 1):  # above and below the text: nothing but the band
            colors = {QColor(image.pixel(x, y)).rgb() for x in range(2, image.width() - 2)}
            assert colors == {highlight}, [QColor(c).name() for c in colors]
    finally:
        apply_theme(qapp, Settings(theme="light"))


def test_the_accounts_list_says_who_each_account_is_on_the_platform(engine, qloop, shown):
    """Two accounts both named "Shop" by the operator: the platform identity tells them apart."""
    first = run(qloop, engine.accounts.create("sandbox", "Shop"))
    run(qloop, engine.accounts.create("sandbox", "Shop"))
    run(qloop, engine.accounts.record_login(first, LoginOutcome("dy-20241", username="测试创作者")))
    dialog = shown(AccountsDialog(engine))
    wait_until(qloop, lambda: dialog.table.rowCount() == 2)
    column = COLUMNS.index("identity")
    identities = {dialog.table.item(r, column).data(Qt.ItemDataRole.UserRole): dialog.table.item(r, column).text()
                  for r in range(2)}
    assert identities[first] == "测试创作者 (id dy-20241)"
    assert sorted(identities.values()) == ["", "测试创作者 (id dy-20241)"]  # the other one never logged in


def test_each_identity_shows_its_kept_avatar_or_the_placeholder(engine, qloop, shown, tmp_path):
    with_avatar = run(qloop, engine.accounts.create("douyin", "Shop A"))
    without = run(qloop, engine.accounts.create("douyin", "Shop B"))
    for account_id in (with_avatar, without):
        run(qloop, engine.accounts.record_login(account_id, LoginOutcome(f"dy-{account_id[-4:]}", username="创作者")))
    red = QImage(32, 32, QImage.Format.Format_RGB32)
    red.fill(QColor("#ff0000"))
    saved = tmp_path / "avatar.png"
    red.save(str(saved), "PNG")
    save_avatar(engine.paths.data_dir, with_avatar, saved.read_bytes())  # what the engine keeps at login
    dialog = shown(AccountsDialog(engine))
    wait_until(qloop, lambda: dialog.table.rowCount() == 2)
    column = COLUMNS.index("identity")
    centre = {}
    for r in range(2):
        item = dialog.table.item(r, column)
        image = item.icon().pixmap(dialog.table.iconSize()).toImage()
        centre[item.data(Qt.ItemDataRole.UserRole)] = QColor(image.pixel(image.width() // 2, image.height() // 2)).name()
    assert centre[with_avatar] == "#ff0000"
    assert centre[without] == "#8a93a3"  # the placeholder's figure


def test_a_platform_error_in_a_tooltip_reads_as_the_plain_text_it_is(engine, qloop, shown):
    error = "<b>账号异常</b> <img src=https://example.invalid/x.png> a < b\nretry later"
    account = run(qloop, engine.accounts.create("sandbox", "Shop tip"))
    run(qloop, engine.accounts.set_login_status(account, "expired", error=error))
    dialog = shown(AccountsDialog(engine))
    wait_until(qloop, lambda: dialog.table.rowCount() == 1)
    tooltip = dialog.table.item(0, COLUMNS.index("error")).toolTip()
    assert shown_as(tooltip) == error
