"""The login dialog: a live view of one login session (DESIGN.md §4).

It starts a session with the LoginManager and follows its LoginProgress events: the QR code
(with a countdown to its expiry and how often it was refreshed), scanned, an SMS/phone field
when the platform asks for one, and the outcome. "Show browser" restarts the session in a
visible browser window for the cases the QR flow can't handle (captcha, odd pages).
A login the engine refuses because the phone confirmed another platform account than the
one this account belongs to says so in the operator's language.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.engine import Engine
from app.engine.events import LoginProgress
from app.ui.dialogs.base import EngineDialog, role_label
from app.ui.plain_text import plain_tooltip
from app.ui.reasons import login_failure

log = logging.getLogger(__name__)

QR_SIZE = 240
CLOSE_AFTER_SUCCESS_MS = 1200
TERMINAL_STATES = frozenset({"success", "failed", "timeout", "expired", "cancelled"})


class LoginDialog(EngineDialog):
    def __init__(self, engine: Engine, account_id: str, parent: QWidget | None = None, *,
                 new_account: bool = False, visible: bool = False) -> None:
        super().__init__(engine, parent)
        self.account_id = account_id
        # An account just added for this login: closing the dialog before it logged in asks
        # whether to keep it, rather than leaving an account nobody meant to keep.
        self.new_account = new_account
        self.keep_box: QMessageBox | None = None
        self.account_name = account_id
        self.account_identity: str | None = None  # who the account is on the platform
        self.error_code: str | None = None
        self.session_id: str | None = None
        self.state = "starting"  # the last state shown (LoginProgress.state or "verifying")
        self.message: str | None = None
        self.input_kind = "sms_code"
        self.expires_at: datetime | None = None
        self.refresh_count = 0
        self.qr_url: str | None = None  # what the QR code encodes (the phone's page)
        self.sandbox = False  # the account is on the local sandbox site: no real phone can scan
        self._setup_ui()
        self.retranslate()
        self.events.login_progress.connect(self._on_progress)
        self.call(engine.accounts.get(account_id), self._on_account)
        # `visible`: straight into a browser window, for a check only a person can pass there
        # (the platform holds the account for a slider or a face check).
        self._start(visible=visible)

    def _setup_ui(self) -> None:
        self.setMinimumWidth(380)
        self.title = role_label("title")
        self.qr = QLabel()
        self.qr.setObjectName("qrCode")
        self.qr.setFixedSize(QR_SIZE + 18, QR_SIZE + 18)
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.setWordWrap(True)
        self.status = role_label("status")
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.status.setWordWrap(True)
        self.detail = role_label("hint")
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail.setWordWrap(True)

        # Verification: only while the platform waits for a code or a phone number.
        self.verification = QWidget()
        row = QHBoxLayout(self.verification)
        row.setContentsMargins(0, 0, 0, 0)
        self.code_edit = QLineEdit()
        self.code_edit.returnPressed.connect(self._submit_code)
        self.submit_button = QPushButton()
        self.submit_button.setProperty("role", "primary")
        self.submit_button.clicked.connect(self._submit_code)
        row.addWidget(self.code_edit, 1)
        row.addWidget(self.submit_button)
        self.verification.hide()

        # The sandbox's QR code points at this computer (127.0.0.1), which a phone cannot open:
        # its "phone" is a page in the desktop browser instead.
        self.simulate_button = QPushButton()
        self.simulate_button.setObjectName("simulateScan")
        self.simulate_button.clicked.connect(self.simulate_scan)
        self.simulate_button.hide()
        self.show_browser_button = QPushButton()
        self.show_browser_button.clicked.connect(lambda: self._start(visible=True))
        self.retry_button = QPushButton()
        self.retry_button.clicked.connect(lambda: self._start(visible=False))
        self.retry_button.hide()
        self.cancel_button = QPushButton()
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.simulate_button)
        buttons.addWidget(self.show_browser_button)
        buttons.addStretch(1)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(self.title)
        layout.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.status)
        layout.addWidget(self.detail)
        layout.addWidget(self.verification)
        layout.addWidget(self.error_label)
        layout.addLayout(buttons)

        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._show_detail)

    # ---- Session ------------------------------------------------------------------------
    def _start(self, *, visible: bool) -> None:
        """(Re)start the session; a running one is cancelled first so only one is live."""
        previous = self.session_id if self.state not in TERMINAL_STATES else None
        self.session_id = None
        self.expires_at = None
        self.refresh_count = 0
        self.qr_url = None
        self.error_code = None
        self.qr.clear()
        self.show_error(None)
        self._show_state("starting", None)
        self.call(self._restart(previous, visible), self._on_started, on_error=self._on_start_failed)

    async def _restart(self, previous: str | None, visible: bool) -> str:
        if previous is not None:
            await self.engine.logins.cancel(previous)  # else start() hands back the old session
        room = (self.screen() or QGuiApplication.primaryScreen()).availableGeometry()
        return await self.engine.logins.start(self.account_id, visible=visible,
                                              screen=(room.width(), room.height()))

    def _on_started(self, session_id: str) -> None:
        """Show the session as it is now; events published before this moment were older."""
        self.session_id = session_id
        session = self.engine.logins.session(session_id)
        if session is not None:
            self._on_progress(LoginProgress(
                session_id=session.id, account_id=session.account_id, state=session.state,
                qr_png=session.qr_png, qr_url=session.qr_url, expires_at=session.expires_at,
                input_kind=session.input_kind, message=session.message,
                refresh_count=session.refresh_count,
            ))

    def _on_start_failed(self, exc: BaseException) -> None:
        self._show_state("failed", None)
        self.show_error(exc)

    def _on_progress(self, event: LoginProgress) -> None:
        if self.session_id is None or event.session_id != self.session_id:
            return  # not ours, or from before the current session's snapshot
        if self.state == "success":
            return  # logged in: nothing the page does afterwards (a new QR code) matters
        if event.state in TERMINAL_STATES:
            # the code is used up (or refused): show how it ended, not a code to scan again
            self.qr.clear()
        elif event.qr_png:
            pixmap = QPixmap()
            pixmap.loadFromData(event.qr_png, "PNG")
            self.qr.setPixmap(pixmap.scaled(QR_SIZE, QR_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.FastTransformation))
        if event.qr_url:
            self.qr_url = event.qr_url
        if event.expires_at is not None:
            self.expires_at = event.expires_at
        self.refresh_count = max(self.refresh_count, event.refresh_count)
        if event.input_kind:
            self.input_kind = event.input_kind
        if event.state == "success" and self.state != "success":
            QTimer.singleShot(CLOSE_AFTER_SUCCESS_MS, self.accept)
        if event.message and event.message != self.message:
            log.info("login of %s: %s: %s", self.account_id, event.state, event.message)
        self.error_code = event.error_code
        self._show_state(event.state, event.message)

    def simulate_scan(self) -> None:
        """Sandbox only: open the phone page the QR code points at, as scanning it would."""
        if self.sandbox and self.qr_url:
            QDesktopServices.openUrl(QUrl(self.qr_url))

    def _submit_code(self) -> None:
        value = self.code_edit.text().strip()
        if not value or self.session_id is None:
            return
        self.code_edit.clear()
        self._show_state("verifying", None)
        self.call(self.engine.logins.submit_input(self.session_id, value))

    # ---- Showing state ------------------------------------------------------------------
    def _show_state(self, state: str, message: str | None) -> None:
        self.state = state
        self.message = message
        terminal = state in TERMINAL_STATES
        asking = state == "verification_required"
        self.verification.setVisible(asking)
        if asking:
            self.code_edit.setFocus()
        self.retry_button.setVisible(terminal and state != "success")
        self.simulate_button.setVisible(self.sandbox and state in ("qr_ready", "qr_refreshed") and bool(self.qr_url))
        self.show_browser_button.setEnabled(not terminal and _can_show_windows())
        if state in ("qr_ready", "qr_refreshed") and self.expires_at is not None:
            self._countdown.start()
        elif terminal or state in ("scanned", "verification_required", "verifying"):
            self._countdown.stop()
        self.status.setProperty("role", {"success": "success", "failed": "error"}.get(state, "status"))
        self.status.style().polish(self.status)
        self.retranslate()

    def _show_detail(self) -> None:
        parts: list[str] = []
        if self.state in ("qr_ready", "qr_refreshed") and self.expires_at is not None:
            left = int((self.expires_at - datetime.now(timezone.utc)).total_seconds())
            parts.append(self.tr("Expires in {time}").format(time=f"{max(left, 0) // 60}:{max(left, 0) % 60:02d}"))
        if self.refresh_count and self.state not in TERMINAL_STATES:
            parts.append(self.tr("refreshed %n time(s)", "", self.refresh_count))
        if self.state == "failed" and self.error_code == "identity_mismatch":
            parts.append(self.tr(
                "This account belongs to {0} on the platform; the phone confirmed another one. "
                "Log in as {0}, or add a new account for the other one.")
                .replace("{0}", self.account_identity or self.account_name))
        else:
            if self.simulate_button.isVisibleTo(self):
                parts.append(self.tr("Sandbox: “Simulate scan” plays the phone"))
            hint = login_failure(self.state)
            if hint:
                parts.append(hint)
        self.detail.setText(" · ".join(parts))
        self.detail.setVisible(bool(parts))

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Log in"))
        self.title.setText(self.tr("Log in to {account}").format(account=self.account_name))
        states = {
            "starting": self.tr("Opening the login page…"),
            "started": self.tr("Opening the login page…"),
            "qr_ready": self.tr("Scan the QR code with the platform's mobile app"),
            "qr_refreshed": self.tr("The QR code was renewed: scan the new one"),
            "scanned": self.tr("Scanned: confirm the login on the phone"),
            "verification_required": self.tr("The platform sent a verification code"),
            "verifying": self.tr("Verifying…"),
            "success": self.tr("Logged in"),
            "failed": self.tr("Login failed"),
            "timeout": self.tr("The login timed out"),
            "expired": self.tr("The QR code expired"),
            "cancelled": self.tr("Login cancelled"),
        }
        self.status.setText(states.get(self.state, self.state))
        # The engine's words (English, for the log) stay out of the text: the state says it.
        self.status.setToolTip(plain_tooltip(self.message))
        if self.state == "failed" and self.error_code == "identity_mismatch":
            self.status.setText(self.tr("Login refused: another platform account"))
        if self.state == "verification_required" and self.message:
            self.status.setText(self.message)  # the platform's own prompt says which code
        if not self.qr.pixmap() or self.qr.pixmap().isNull():
            if self.state == "success":
                self.qr.setText("✓")
            else:
                self.qr.setText(self.tr("The QR code appears here") if self.state not in TERMINAL_STATES else "")
        self.qr.setProperty("done", self.state == "success")
        self.qr.style().polish(self.qr)
        if self.input_kind == "phone_number":
            self.code_edit.setPlaceholderText(self.tr("Phone number"))
        else:
            self.code_edit.setPlaceholderText(self.tr("SMS code"))
        self.submit_button.setText(self.tr("Submit"))
        self.simulate_button.setText(self.tr("Simulate scan"))
        self.simulate_button.setToolTip(self.tr(
            "The sandbox has no phone app: this opens the page a phone would show after scanning"))
        self.show_browser_button.setText(self.tr("Show browser"))
        self.show_browser_button.setToolTip(
            self.tr("Continue the login in a visible browser window")
            if _can_show_windows() else self.tr("No display available for a browser window")
        )
        self.retry_button.setText(self.tr("Try again"))
        self.cancel_button.setText(self.tr("Close") if self.state in TERMINAL_STATES else self.tr("Cancel"))
        self._show_detail()

    # ---- Closing ------------------------------------------------------------------------
    def _on_account(self, account) -> None:
        if account is not None:
            self.account_name = account.display_name
            self.account_identity = account.platform_username or account.platform_user_id
            self.sandbox = account.platform == "sandbox"
            self._show_state(self.state, self.message)

    def reject(self) -> None:
        """Cancel, Esc or the window's ✕: for a new account not logged in, ask first whether
        to keep it (without blocking: the answer closes the dialog)."""
        if not self.new_account or self.state == "success":
            super().reject()
            return
        if self.keep_box is not None:
            self.keep_box.raise_()
            return
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Keep the new account?"),
                          self.tr("“{account}” has not logged in. Keep it to log in later, or remove it?")
                          .format(account=self.account_name), QMessageBox.StandardButton.NoButton, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        remove = box.addButton(self.tr("Remove account"), QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton(self.tr("Keep account"), QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)

        def answered(_result: int) -> None:
            self.keep_box = None
            removing = box.clickedButton() is remove
            running = self.session_id if self.state not in TERMINAL_STATES else None
            self.new_account = False
            if removing:
                self.call(self._remove_account(running))
                self.session_id = None  # _remove_account ends it
            super(LoginDialog, self).reject()

        box.finished.connect(answered)
        self.keep_box = box
        box.open()

    async def _remove_account(self, session_id: str | None) -> None:
        if session_id is not None:
            await self.engine.logins.cancel(session_id)  # first, or it writes the account again
        log.info("the operator removed the new account %s before it logged in", self.account_id)
        await self.engine.accounts.delete(self.account_id)

    def done(self, result: int) -> None:
        """Closing the dialog ends a session still running, so no browser waits for nobody."""
        if self.session_id is not None and self.state not in TERMINAL_STATES:
            self.call(self.engine.logins.cancel(self.session_id))
        self._countdown.stop()
        super().done(result)


def _can_show_windows() -> bool:
    return QGuiApplication.platformName() not in ("offscreen", "minimal")
