"""What every console dialog shares: engine calls from slots, engine events, live language.

Dialogs never block the Qt thread: engine coroutines run as tasks (`call`), results come back
in callbacks, and a dialog that is already closed when a result arrives ignores it. Each dialog
follows engine events through its own EngineBridge, disconnected when the dialog closes. The
dialogs are one-shot (deleted when closed) and shown with open()/show(), never exec().
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFormLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTableWidget,
    QWidget,
)

from app.engine.engine import Engine
from app.ui.bridge import EngineBridge, spawn

log = logging.getLogger(__name__)


def describe_error(exc: BaseException) -> str:
    """One line an operator can act on: the error's own message, else its kind."""
    text = str(exc).strip()
    return text or QCoreApplication.translate("EngineDialog", "Unexpected error ({kind})").format(
        kind=type(exc).__name__
    )


def role_label(role: str, text: str = "") -> QLabel:
    """A label styled by the themes' `role` rules (title, hint, status, error, success)."""
    label = QLabel(text)
    label.setProperty("role", role)
    label.setTextFormat(Qt.TextFormat.PlainText)  # platform text is never rendered as HTML
    return label


def record_table(columns: int, stretch_column: int) -> QTableWidget:
    """A read-only table of records, one selectable row each; `stretch_column` takes the
    width the others leave."""
    table = QTableWidget(0, columns)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)  # (a transparent grid still leaves a gap between the cells of a selected row)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    header = table.horizontalHeader()
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setHighlightSections(False)
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch_column, QHeaderView.ResizeMode.Stretch)
    return table


def set_form_labels(form: QFormLayout, *texts: str) -> None:
    """Set the label texts of a form's first rows (rows added with an empty label)."""
    for row, text in enumerate(texts):
        item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
        if item is not None and isinstance(item.widget(), QLabel):
            item.widget().setText(text)


class EngineDialog(QDialog):
    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.events = EngineBridge(engine.bus, self)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.error_label = role_label("error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.confirm_box: QMessageBox | None = None

    # ---- Public API ---------------------------------------------------------------------
    def call(
        self,
        coro: Awaitable[Any],
        on_done: Callable[[Any], None] | None = None,
        *,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> asyncio.Task[Any]:
        """Run an engine coroutine; callbacks run only while the dialog still exists. Errors
        go to `on_error`, or are shown in the dialog's error line."""

        def done(result: Any) -> None:
            if shiboken6.isValid(self) and on_done is not None:
                on_done(result)

        def failed(exc: BaseException) -> None:
            log.warning("%s: %s", type(self).__name__, exc, exc_info=exc)
            if shiboken6.isValid(self):
                (on_error or self.show_error)(exc)

        return spawn(coro, on_done=done, on_error=failed)

    def show_error(self, error: BaseException | str | None) -> None:
        """Show (or with None, clear) the dialog's error line."""
        if error is None:
            self.error_label.clear()
            self.error_label.hide()
            return
        self.error_label.setText(error if isinstance(error, str) else describe_error(error))
        self.error_label.show()

    def confirm(self, title: str, text: str, action: str, on_yes: Callable[[], None]) -> QMessageBox:
        """Ask before something that cannot be undone, without blocking (QMessageBox.open);
        `on_yes` runs only when the operator presses the `action` button."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.button(QMessageBox.StandardButton.Yes).setText(action)
        box.button(QMessageBox.StandardButton.Cancel).setText(
            QCoreApplication.translate("EngineDialog", "Cancel"))
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(_result: int) -> None:
            self.confirm_box = None
            if box.standardButton(box.clickedButton()) == QMessageBox.StandardButton.Yes:
                on_yes()

        box.finished.connect(answered)
        self.confirm_box = box
        box.open()
        return box

    def retranslate(self) -> None:
        """Set every visible string; called at construction and when the language changes."""

    # ---- Qt overrides -------------------------------------------------------------------
    def done(self, result: int) -> None:
        self.events.close()
        super().done(result)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
