"""The login dialog: a live view of one login session (DESIGN.md §4).

It starts a session with the LoginManager and follows its LoginProgress events: the QR code
(with a countdown to its expiry and how often it was refreshed), scanned, an SMS/phone field
when the platform asks for one, and the outcome. "Show browser" restarts the session in a
visible browser window for the cases the QR flow can't handle (captcha, odd pages).
A login the engine refuses because the phone confirmed another platform account than the
one this account belongs to says so in the operator's language.
"""
from __future__ import annotations

from datetime import datetime, timezone

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.engine.engine import Engine
from app.engine.events import LoginProgress
from app.ui.dialogs.base import EngineDialog, role_label

QR_SIZE = 240
CLOSE_AFTER_SUCCESS_MS = 1200
TERMINAL_STATES = frozenset({"success", "failed", "timeout", "expired", "cancelled"})


class LoginDialog(EngineDialog):
    def __init__(self, engine: Engine, account_id: str, parent: QWidget | None = None) -> None:
        super().__init__(engine, parent)
        self.account_id = account_id
        self.account_name = account_id
        self.account_identity: str | None = None  # who the account is on the platform
        self.error_code: str | None = None
        self.session_id: str | None = None
        self.state = "starting"  # the last state shown (LoginProgress.state or "verifying")
        self.message: str | None = None
        self.input_kind = "sms_code"
        self.expires_at: datetime | None = None
        self.refresh_count = 0
        self._setup_ui()
        self.retranslate()
        self.events.login_progress.connect(self._on_progress)
        self.call(engine.accounts.get(account_id), self._on_account)
        self._start(visible=False)

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

        self.show_browser_button = QPushButton()
        self.show_browser_button.clicked.connect(lambda: self._start(visible=True))
        self.retry_button = QPushButton()
        self.retry_button.clicked.connect(lambda: self._start(visible=False))
        self.retry_button.hide()
        self.cancel_button = QPushButton()
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
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
        self.error_code = None
        self.qr.clear()
        self.show_error(None)
        self._show_state("starting", None)
        self.call(self._restart(previous, visible), self._on_started, on_error=self._on_start_failed)

    async def _restart(self, previous: str | None, visible: bool) -> str:
        if previous is not None:
            await self.engine.logins.cancel(previous)  # else start() hands back the old session
        return await self.engine.logins.start(self.account_id, visible=visible)

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
        if event.qr_png:
            pixmap = QPixmap()
            pixmap.loadFromData(event.qr_png, "PNG")
            self.qr.setPixmap(pixmap.scaled(QR_SIZE, QR_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.FastTransformation))
        if event.expires_at is not None:
            self.expires_at = event.expires_at
        self.refresh_count = max(self.refresh_count, event.refresh_count)
        if event.input_kind:
            self.input_kind = event.input_kind
        if event.state == "success" and self.state != "success":
            QTimer.singleShot(CLOSE_AFTER_SUCCESS_MS, self.accept)
        self.error_code = event.error_code
        self._show_state(event.state, event.message)

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
        elif self.message and self.state != "verification_required":
            parts.append(self.message)
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
        if self.state == "failed" and self.error_code == "identity_mismatch":
            self.status.setText(self.tr("Login refused: another platform account"))
        if self.state == "verification_required" and self.message:
            self.status.setText(self.message)  # the platform's own prompt says which code
        if not self.qr.pixmap() or self.qr.pixmap().isNull():
            self.qr.setText(self.tr("The QR code appears here") if self.state not in TERMINAL_STATES else "")
        if self.input_kind == "phone_number":
            self.code_edit.setPlaceholderText(self.tr("Phone number"))
        else:
            self.code_edit.setPlaceholderText(self.tr("SMS code"))
        self.submit_button.setText(self.tr("Submit"))
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
            self.retranslate()

    def done(self, result: int) -> None:
        """Closing the dialog ends a session still running, so no browser waits for nobody."""
        if self.session_id is not None and self.state not in TERMINAL_STATES:
            self.call(self.engine.logins.cancel(self.session_id))
        self._countdown.stop()
        super().done(result)


def _can_show_windows() -> bool:
    return QGuiApplication.platformName() not in ("offscreen", "minimal")
