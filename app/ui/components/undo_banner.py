"""A status-bar banner that offers to undo a sweeping action for a few seconds.

"Mark all read" changes every account at once; a mistaken click must be cheap to take back,
without a second confirmation in the way of the deliberate one.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

UNDO_SECONDS = 10


class UndoBanner(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("undoBanner")
        self._undo: Callable[[], None] | None = None
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.undo_button = QPushButton(self)
        self.undo_button.setObjectName("undo")
        self.undo_button.setFlat(True)
        self.undo_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.undo_button.clicked.connect(self.undo)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.undo_button)
        self._expiry = QTimer(self)
        self._expiry.setSingleShot(True)
        self._expiry.setInterval(UNDO_SECONDS * 1000)
        self._expiry.timeout.connect(self.dismiss)
        self.retranslate()
        self.hide()

    def offer(self, text: str, undo: Callable[[], None]) -> None:
        """Say what was done, with an Undo button, for UNDO_SECONDS (a new offer replaces it)."""
        self._undo = undo
        self.label.setText(text)
        self.show()
        self._expiry.start()

    def undo(self) -> None:
        undo, self._undo = self._undo, None
        self.dismiss()
        if undo is not None:
            undo()

    def dismiss(self) -> None:
        self._undo = None
        self._expiry.stop()
        self.hide()

    def retranslate(self) -> None:
        self.undo_button.setText(self.tr("Undo"))

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == event.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
