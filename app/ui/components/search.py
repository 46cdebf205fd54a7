"""Ctrl+K: search every stored message and jump to one.

Typing queries the engine's full-text search (debounced, so a fast typist causes one query,
and an answer to an older query is dropped). Hits come newest first, a page at a time: "Load
more" asks for the next page by its cursor. Up/Down pick a hit, Enter jumps to it, Esc closes.

Each row says where the message is (account · topic), who wrote it and when, and the snippet
with the matches highlighted. `SearchHitDelegate` paints it: platform text is laid out as
plain text (QTextLayout, never a rich-text label), and the highlight is a format range over
the characters the engine found, so nothing in a message can turn into markup.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontMetrics, QKeyEvent, QPainter, QPalette, QTextCharFormat, QTextLayout, QTextOption
from PySide6.QtWidgets import (
    QDialog, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem, QPushButton, QStyle,
    QStyledItemDelegate, QStyleOptionViewItem, QVBoxLayout, QWidget,
)

from app.engine.im.types import Page, SearchHit

from ..bridge import spawn
from ..views.painting import bold_font, format_time, small_font

SEARCH_DEBOUNCE_MS = 200
PAGE_HITS = 50
HitRole = Qt.ItemDataRole.UserRole
PADDING = 6
MATCH_BACKGROUND = QColor("#ffd54f")


def where_line(hit: SearchHit) -> str:
    """The first line of a row: where the message is, who wrote it, when."""
    message = hit.message
    author = message.author_name or message.author_id or ""
    parts = [hit.account_name, hit.topic_title, author, format_time(message.created_at)]
    return " · ".join(part for part in parts if part)


class SearchHitDelegate(QStyledItemDelegate):
    """Two lines per hit: where (small, dimmed) and the snippet with its matches highlighted."""

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:  # noqa: N802
        line = QFontMetrics(option.font).lineSpacing()
        small = QFontMetrics(small_font(option.font)).lineSpacing()
        return QSize(option.rect.width(), small + line + 3 * PADDING)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        hit: SearchHit | None = index.data(HitRole)
        if hit is None:
            return super().paint(painter, option, index)
        painter.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette = option.palette
        if selected:
            painter.fillRect(option.rect, palette.color(QPalette.ColorRole.Highlight))
        text_color = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        rect = option.rect.adjusted(PADDING, PADDING, -PADDING, -PADDING)

        small = small_font(option.font)
        small_metrics = QFontMetrics(small)
        painter.setFont(small)
        dim = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.PlaceholderText
        painter.setPen(palette.color(dim))
        top = QRect(rect.left(), rect.top(), rect.width(), small_metrics.lineSpacing())
        painter.drawText(top, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextSingleLine,
                         small_metrics.elidedText(where_line(hit), Qt.TextElideMode.ElideRight, top.width()))

        painter.setPen(text_color)
        layout = self.snippet_layout(hit, option, rect.width())
        layout.draw(painter, QPointF(rect.left(), top.bottom() + 1 + PADDING))
        painter.restore()

    def snippet_layout(self, hit: SearchHit, option: QStyleOptionViewItem, width: int) -> QTextLayout:
        """The snippet as one plain-text line of at most `width` pixels, matches in bold on
        the highlight colour (the engine's ranges, cut to what fits)."""
        metrics = QFontMetrics(option.font)
        text = metrics.elidedText(hit.snippet, Qt.TextElideMode.ElideRight, width)
        layout = QTextLayout(text, option.font)
        text_option = QTextOption()
        text_option.setWrapMode(QTextOption.WrapMode.NoWrap)
        layout.setTextOption(text_option)
        fmt = QTextCharFormat()
        fmt.setFont(bold_font(option.font))
        fmt.setBackground(MATCH_BACKGROUND)  # as a browser's find: readable on any theme and on the selection
        fmt.setForeground(QColor("black"))
        visible = len(text) if text == hit.snippet else len(text) - 1  # up to the ellipsis
        ranges = []
        for start, length in hit.highlights:
            length = min(length, visible - start)
            if length > 0:
                selection = QTextLayout.FormatRange()
                selection.start, selection.length, selection.format = start, length, fmt
                ranges.append(selection)
        layout.setFormats(ranges)
        layout.beginLayout()
        layout.createLine().setLineWidth(width)
        layout.endLayout()
        return layout


class SearchDialog(QDialog):
    #: SearchHit: the operator chose this hit
    hit_chosen = Signal(object)

    def __init__(self, views, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._views = views
        self._generation = 0  # answers to older queries are ignored
        self._query = ""
        self._next: str | None = None  # cursor of the next page
        self.setWindowTitle(self.tr("Search messages"))
        self.resize(620, 460)

        self.query = QLineEdit(self)
        self.query.setPlaceholderText(self.tr("Search all comments and direct messages…"))
        self.query.setClearButtonEnabled(True)
        self.query.installEventFilter(self)
        self.results = QListWidget(self)
        self.results.setItemDelegate(SearchHitDelegate(self.results))
        self.results.setUniformItemSizes(True)
        self.results.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results.itemActivated.connect(self._choose)
        self.status = QLabel(self)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.more = QPushButton(self.tr("Load more"), self)
        self.more.setAutoDefault(False)
        self.more.hide()
        self.more.clicked.connect(self.load_more)

        footer = QHBoxLayout()
        footer.addWidget(self.status, 1)
        footer.addWidget(self.more)
        layout = QVBoxLayout(self)
        layout.addWidget(self.query)
        layout.addWidget(self.results, 1)
        layout.addLayout(footer)

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
        return [self.results.item(i).data(HitRole) for i in range(self.results.count())]

    def run_query(self) -> None:
        """Search for what the query box says: the first page."""
        self._query = self.query.text().strip()
        self._next = None
        self.results.clear()
        self._fetch(None)

    def load_more(self) -> None:
        """Append the next (older) page of the current query."""
        if self._next is not None:
            self._fetch(self._next)

    def _fetch(self, cursor: str | None) -> None:
        self._generation += 1
        generation, text = self._generation, self._query
        self.more.hide()
        if not text:
            self._show_status()
            return
        self.status.setText(self.tr("Searching…"))

        def answered(page: Page[SearchHit]) -> None:
            if generation == self._generation:
                self._append(page)

        def failed(exc: BaseException) -> None:
            if generation == self._generation:
                self.status.setText(str(exc))

        spawn(self._views.search(text, limit=PAGE_HITS, cursor=cursor), on_done=answered, on_error=failed)

    def _append(self, page: Page[SearchHit]) -> None:
        first = self.results.count() == 0
        for hit in page.items:
            # The display text (for accessibility and copying) is plain; the delegate paints.
            item = QListWidgetItem(f"{where_line(hit)}\n{hit.snippet}")
            item.setData(HitRole, hit)
            self.results.addItem(item)
        if first and self.results.count():
            self.results.setCurrentRow(0)
        self._next = page.after
        self.more.setVisible(page.after is not None)
        self._show_status()

    def _show_status(self) -> None:
        count = self.results.count()
        if not self._query:
            self.status.setText("")
        elif not count:
            self.status.setText(self.tr("Nothing found."))
        elif self._next is not None:
            self.status.setText(self.tr("{0} shown, more are older").replace("{0}", str(count)))
        else:
            self.status.setText(self.tr("{0} found").replace("{0}", str(count)))

    def _choose(self, item: QListWidgetItem | None = None) -> None:
        item = item or self.results.currentItem()
        if item is None:
            return
        self.hit_chosen.emit(item.data(HitRole))
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
