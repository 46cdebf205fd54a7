"""Ctrl+K: search every stored message and jump to one.

Typing queries the engine's full-text search (debounced, so a fast typist causes one query,
and an answer to an older query is dropped). Up/Down pick a hit, Enter jumps to it, Esc
closes. Hits are plain-text list items: platform text is never shown as markup.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from app.engine.im.types import SearchHit

from ..bridge import spawn
from ..views.painting import format_time

SEARCH_DEBOUNCE_MS = 200
MAX_HITS = 50


class SearchDialog(QDialog):
    #: SearchHit: the operator chose this hit
    hit_chosen = Signal(object)

    def __init__(self, views, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._views = views
        self._generation = 0  # answers to older queries are ignored
        self.setWindowTitle(self.tr("Search messages"))
        self.resize(620, 420)

        self.query = QLineEdit(self)
        self.query.setPlaceholderText(self.tr("Search all comments and direct messages…"))
        self.query.setClearButtonEnabled(True)
        self.query.installEventFilter(self)
        self.results = QListWidget(self)
        self.results.itemActivated.connect(self._choose)
        self.status = QLabel(self)
        self.status.setTextFormat(Qt.TextFormat.PlainText)

        layout = QVBoxLayout(self)
        layout.addWidget(self.query)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.status)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.run_query)
        self.query.textChanged.connect(lambda _text: self._debounce.start())

    def open(self) -> None:  # noqa: A003 (QDialog.open)
        self.query.selectAll()
        self.query.setFocus()
        super().open()

    def hits(self) -> list[SearchHit]:
        return [self.results.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.results.count())]

    def run_query(self) -> None:
        text = self.query.text().strip()
        self._generation += 1
        generation = self._generation
        if not text:
            self._show([], "")
            return
        self.status.setText(self.tr("Searching…"))

        def answered(hits: list[SearchHit]) -> None:
            if generation == self._generation:
                self._show(hits, text)

        spawn(self._views.search(text, limit=MAX_HITS), on_done=answered,
              on_error=lambda exc: self.status.setText(str(exc)))

    def _show(self, hits: list[SearchHit], text: str) -> None:
        self.results.clear()
        for hit in hits:
            message = hit.message
            author = message.author_name or message.author_id or ""
            item = QListWidgetItem(f"{author} · {format_time(message.created_at)}\n{hit.snippet}")
            item.setData(Qt.ItemDataRole.UserRole, hit)
            self.results.addItem(item)
        if hits:
            self.results.setCurrentRow(0)
        if text and not hits:
            self.status.setText(self.tr("Nothing found."))
        else:
            self.status.setText(self.tr("{0} found").replace("{0}", str(len(hits))) if hits else "")

    def _choose(self, item: QListWidgetItem | None = None) -> None:
        item = item or self.results.currentItem()
        if item is None:
            return
        self.hit_chosen.emit(item.data(Qt.ItemDataRole.UserRole))
        self.accept()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        """Up/Down move through the hits and Enter chooses, without leaving the query."""
        if watched is self.query and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up) and self.results.count():
                step = 1 if key == Qt.Key.Key_Down else -1
                row = max(0, min(self.results.count() - 1, self.results.currentRow() + step))
                self.results.setCurrentRow(row)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                if self._debounce.isActive():  # Enter before the query ran: run it now
                    self._debounce.stop()
                    self.run_query()
                else:
                    self._choose()
                return True
        return super().eventFilter(watched, event)
