"""The reply box under the chat: Enter sends, Shift+Enter starts a new line, Esc drops the
comment being replied to.

It only collects text and the reply target; the chat pane hands them to the outbox. The text
is cleared only after the outbox has accepted the reply, so a refused reply (too long, engine
stopped) keeps what the operator typed, with the reason shown above the input.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFontMetrics, QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.im.types import Message
from app.engine.records import MAX_TEXT_LEN

from ..views.painting import login_state_label


class ReplyInput(QPlainTextEdit):
    """Plain-text input: Enter submits, Shift+Enter inserts a newline, Esc escapes."""

    submitted = Signal()
    escaped = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.submitted.emit()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.escaped.emit()
            return
        super().keyPressEvent(event)


class ReplyBox(QWidget):
    #: (text, target comment id or None): the operator pressed Enter or Send
    send_requested = Signal(str, object)
    #: the reply target was dropped (Esc, the ✕ button, the reply was sent)
    target_cleared = Signal()
    #: the operator pressed "Log in again" on the account banner
    login_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._target: Message | None = None
        self._login_status: str | None = None

        # Shown while the replying account is not logged in: its replies would fail.
        self.account_banner = QWidget(self)
        self.account_banner.setObjectName("accountBanner")
        self.account_label = QLabel(self.account_banner)
        self.account_label.setTextFormat(Qt.TextFormat.PlainText)
        self.account_label.setWordWrap(True)
        self.account_label.setStyleSheet("color: #b45309;")
        self.login_button = QPushButton(self.account_banner)
        self.login_button.clicked.connect(self.login_requested)
        banner_row = QHBoxLayout(self.account_banner)
        banner_row.setContentsMargins(0, 0, 0, 0)
        banner_row.addWidget(self.account_label, 1)
        banner_row.addWidget(self.login_button)
        self.account_banner.hide()

        self.target_label = QLabel(self)
        self.target_label.setTextFormat(Qt.TextFormat.PlainText)
        self.clear_target_button = QToolButton(self)
        self.clear_target_button.setText("✕")
        self.clear_target_button.clicked.connect(self.clear_target)
        target_row = QHBoxLayout()
        target_row.setContentsMargins(0, 0, 0, 0)
        target_row.addWidget(self.target_label, 1)
        target_row.addWidget(self.clear_target_button)

        self.error_label = QLabel(self)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setStyleSheet("color: #d63939;")
        self.error_label.setWordWrap(True)
        self.error_label.hide()

        self.input = ReplyInput(self)
        self.input.setTabChangesFocus(True)
        line = QFontMetrics(self.input.font()).lineSpacing()
        self.input.setFixedHeight(line * 3 + 16)
        self.input.submitted.connect(self.submit)
        self.input.escaped.connect(self.clear_target)
        self.send_button = QPushButton(self)
        self.send_button.clicked.connect(self.submit)
        input_row = QHBoxLayout()
        input_row.setContentsMargins(0, 0, 0, 0)
        input_row.addWidget(self.input, 1)
        input_row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 8)
        layout.addWidget(self.account_banner)
        layout.addLayout(target_row)
        layout.addWidget(self.error_label)
        layout.addLayout(input_row)
        self.retranslate()

    # ---- Public API -----------------------------------------------------------------------
    @property
    def target(self) -> Message | None:
        return self._target

    def set_target(self, message: Message | None) -> None:
        """Reply to this comment (None: to the work or the conversation itself)."""
        self._target = message
        self._show_target()

    def clear_target(self) -> None:
        had_target = self._target is not None
        self.set_target(None)
        if had_target:
            self.target_cleared.emit()

    def show_account_state(self, login_status: str | None) -> None:
        """Warn above the input while the replying account is not logged in (None: unknown)."""
        self._login_status = login_status
        self._show_account_state()

    def text(self) -> str:
        return self.input.toPlainText()

    def accepted(self) -> None:
        """The outbox took the reply: empty the box for the next one."""
        self.input.clear()
        self.clear_target()
        self.show_error(None)

    def show_error(self, text: str | None) -> None:
        self.error_label.setText(text or "")
        self.error_label.setVisible(bool(text))

    def submit(self) -> None:
        text = self.text()
        if not text.strip():
            return
        if len(text) > MAX_TEXT_LEN:
            self.show_error(self.tr("The reply is too long ({0} characters; at most {1}).")
                            .replace("{0}", str(len(text))).replace("{1}", str(MAX_TEXT_LEN)))
            return
        self.send_requested.emit(text, self._target.id if self._target else None)

    def retranslate(self) -> None:
        self.clear_target_button.setToolTip(self.tr("Stop replying to this comment (Esc)"))
        self.input.setPlaceholderText(self.tr("Write a reply… (Enter sends, Shift+Enter new line)"))
        self.send_button.setText(self.tr("Send"))
        self.login_button.setText(self.tr("Log in again"))
        self._show_target()
        self._show_account_state()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    # ---- Internals ------------------------------------------------------------------------
    def _show_account_state(self) -> None:
        status = self._login_status
        if status is None or status in ("logged_in", "logging_in"):
            self.account_banner.hide()
            return
        self.account_label.setText(
            self.tr("This account: {state}. Replies cannot be sent until it is logged in again.")
            .replace("{state}", login_state_label(status)))
        self.account_banner.show()

    def _show_target(self) -> None:
        target = self._target
        if target is None:
            self.target_label.hide()
            self.clear_target_button.hide()
            return
        author = target.author_name or target.author_id or "?"
        quoted = target.text.replace("\n", " ")
        label = self.tr("Replying to {0}: {1}").replace("{0}", author).replace("{1}", quoted)
        metrics = QFontMetrics(self.target_label.font())
        self.target_label.setText(metrics.elidedText(label, Qt.TextElideMode.ElideRight, 480))
        self.target_label.show()
        self.clear_target_button.show()
