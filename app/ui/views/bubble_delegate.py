"""Chat bubbles: the audience on the left, our replies on the right.

    (AB) Author · 14:05                           You · 14:06 (acc)
         ┃ replying to: quoted text                 ┌──────────────┐
         ┌──────────────────┐                       │ our reply    │
         │ message text ... │                       └──────────────┘
         └──────────────────┘                       ✓✓ Confirmed

Message text is platform input: it is laid out with QTextLayout, which takes plain text only,
so `<b>x</b>` shows as those characters and never as markup. Wrapping prefers word boundaries
and breaks anywhere when it must (long URLs, CJK). Heights are cached by (message id, width)
because QListView asks for the size of every row on each layout; the chat view forgets a
message's entry when its row changes.

Our replies show their outbox status, and for a failed, blocked or queued reply the clickable
Retry / Cancel links (`retry_requested`, `cancel_requested` carry the reply id).
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QEvent, QModelIndex, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPalette,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QToolTip, QWidget

from app.engine.im.types import Message

from ..models.keyed import ObjectRole
from ..plain_text import plain_tooltip
from ..reasons import reason_detail, reply_failure, reply_waiting
from .painting import bold_font, format_time, is_dark, paint_avatar, small_font

MARGIN = 10
AVATAR = 32
PAD = 8
GAP = 3
ROW_SPACING = 8
MIN_TEXT_WIDTH = 60

STATUS_GLYPHS = {
    "queued": "◷",
    "sending": "↻",
    "sent": "✓",
    "confirmed": "✓✓",
    "failed": "✗",
    "blocked": "⛔",
    "cancelled": "⊘",
    "uncertain": "?",
}
RETRYABLE = ("failed", "blocked")
CANCELLABLE = ("queued", "failed", "blocked", "uncertain")
UNCERTAIN = "uncertain"  # may be on the platform: the operator confirms it or sends it again
NEEDS_ATTENTION = ("failed", "blocked", UNCERTAIN)


def status_label(status: str) -> str:
    labels = {
        "queued": QCoreApplication.translate("ReplyStatus", "Queued"),
        "sending": QCoreApplication.translate("ReplyStatus", "Sending…"),
        "sent": QCoreApplication.translate("ReplyStatus", "Sent"),
        "confirmed": QCoreApplication.translate("ReplyStatus", "Confirmed"),
        "failed": QCoreApplication.translate("ReplyStatus", "Failed"),
        "blocked": QCoreApplication.translate("ReplyStatus", "Blocked"),
        "cancelled": QCoreApplication.translate("ReplyStatus", "Cancelled"),
        "uncertain": QCoreApplication.translate("ReplyStatus", "Uncertain: check and confirm"),
    }
    return labels.get(status, status)


def status_text(message: Message) -> str:
    """"✓✓ Confirmed", "✗ Failed: the platform could not be reached" — the footer under our
    reply, in the console's language (the engine's own words are in its tooltip)."""
    status = message.reply_status or ""
    text = f"{STATUS_GLYPHS.get(status, '')} {status_label(status)}".strip()
    if status in NEEDS_ATTENTION and (message.reply_error or message.reply_error_code):
        reason = reply_failure(message.reply_error_code)
    elif status == "queued" and message.reply_wait_code:
        reason = reply_waiting(message.reply_wait_code)
    else:
        return text
    return QCoreApplication.translate("ReplyStatus", "{status}: {reason}").replace(
        "{status}", text).replace("{reason}", reason)


def plain_text_layout(text: str, font: QFont, width: int) -> tuple[QTextLayout, int, int]:
    """Lay out `text` as plain text within `width`; returns (layout, height, widest line)."""
    # QTextLayout breaks lines at U+2028, not at "\n".
    layout = QTextLayout(text.replace("\r\n", "\n").replace("\n", "\u2028"), font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    layout.setCacheEnabled(True)
    height = 0.0
    widest = 0.0
    layout.beginLayout()
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        line.setPosition(QPointF(0, height))
        height += line.height()
        widest = max(widest, line.naturalTextWidth())
    layout.endLayout()
    return layout, int(height + 0.999), int(widest + 0.999)


@dataclass(frozen=True)
class BubbleGeometry:
    bubble: QRect
    avatar: QRect
    header: QRect
    quote: QRect | None
    text: QRect
    footer: QRect | None
    retry: QRect | None
    cancel: QRect | None
    height: int


class BubbleDelegate(QStyledItemDelegate):
    #: str: the outbox reply id whose Retry link was clicked
    retry_requested = Signal(str)
    #: str: the outbox reply id whose Cancel link was clicked
    cancel_requested = Signal(str)

    def __init__(self, view: QWidget, parent=None) -> None:
        super().__init__(parent or view)
        self._view = view
        self._heights: dict[tuple[str, int], int] = {}

    # ---- Height cache ---------------------------------------------------------------------
    def forget(self, message_id: str) -> None:
        for key in [k for k in self._heights if k[0] == message_id]:
            del self._heights[key]

    def forget_all(self) -> None:
        self._heights.clear()

    def row_width(self) -> int:
        return max(200, self._view.viewport().width()) if hasattr(self._view, "viewport") else 400

    # ---- Geometry (shared by sizing, painting and clicks) ---------------------------------
    def geometry(self, rect: QRect, message: Message, font: QFont) -> BubbleGeometry:
        ours = message.direction == "out"
        width = rect.width()
        small = small_font(font)
        small_fm = QFontMetrics(small)
        bold_fm = QFontMetrics(bold_font(small))
        max_bubble = max(MIN_TEXT_WIDTH + 2 * PAD, min(int(width * 0.75), width - 2 * (AVATAR + 2 * MARGIN)))
        inner_max = max_bubble - 2 * PAD
        _, text_h, text_w = plain_text_layout(message.text, font, inner_max)

        header_text = self._header_text(message)
        header_w = bold_fm.horizontalAdvance(header_text[0]) + small_fm.horizontalAdvance("  " + header_text[1])
        footer = status_text(message) if ours and message.reply_status else ""
        links = self._links(message)
        link_ws = [small_fm.horizontalAdvance(label) for label, _ in links]
        # (+ a few px: the text is drawn at fractional widths, and a footer cut at the exact
        # rounded width is elided by its last characters.)
        footer_w = small_fm.horizontalAdvance(footer) + 4 + sum(w + 2 * PAD for w in link_ws)
        quote_h = small_fm.height() + 2 * GAP if message.reply_to_text else 0

        inner_w = min(inner_max, max(text_w, MIN_TEXT_WIDTH,
                                     small_fm.horizontalAdvance(message.reply_to_text or "") + 2 * PAD))
        bubble_w = inner_w + 2 * PAD
        outer_w = max(bubble_w, min(header_w, max_bubble), min(footer_w, max_bubble))

        top = rect.top() + ROW_SPACING // 2
        header_h = bold_fm.height()
        bubble_h = PAD + quote_h + text_h + PAD
        if ours:
            avatar = QRect(rect.right() - MARGIN - AVATAR, top, AVATAR, AVATAR)
            right = avatar.left() - MARGIN
            bubble = QRect(right - bubble_w, top + header_h + GAP, bubble_w, bubble_h)
            header = QRect(right - outer_w, top, outer_w, header_h)
        else:
            avatar = QRect(rect.left() + MARGIN, top, AVATAR, AVATAR)
            left = avatar.right() + MARGIN
            bubble = QRect(left, top + header_h + GAP, bubble_w, bubble_h)
            header = QRect(left, top, outer_w, header_h)
        quote = (QRect(bubble.left() + PAD, bubble.top() + PAD, inner_w, quote_h - GAP)
                 if quote_h else None)
        text = QRect(bubble.left() + PAD, bubble.top() + PAD + quote_h, inner_w, text_h)

        footer_rect = retry = cancel = None
        if footer:
            footer_rect = QRect(header.left(), bubble.bottom() + GAP, outer_w, small_fm.height())
            x = footer_rect.right()
            for (label, action), w in zip(reversed(links), reversed(link_ws)):
                link = QRect(x - w, footer_rect.top(), w, footer_rect.height())
                x = link.left() - 2 * PAD
                if action == "retry":
                    retry = link
                else:
                    cancel = link
            footer_rect.setRight(x)
        bottom = max(avatar.bottom(), (footer_rect or bubble).bottom())
        height = bottom - rect.top() + 1 + ROW_SPACING // 2
        return BubbleGeometry(bubble, avatar, header, quote, text, footer_rect, retry, cancel, height)

    @staticmethod
    def _header_text(message: Message) -> tuple[str, str]:
        author = message.author_name or message.author_id or ""
        if message.direction == "out" and not author:
            author = QCoreApplication.translate("BubbleDelegate", "You")
        return author, format_time(message.created_at)

    @staticmethod
    def _links(message: Message) -> list[tuple[str, str]]:
        if message.direction != "out" or not message.reply_id:
            return []
        links = []
        if message.reply_status in RETRYABLE:
            links.append((QCoreApplication.translate("BubbleDelegate", "Retry"), "retry"))
        if message.reply_status in CANCELLABLE:
            links.append((QCoreApplication.translate("BubbleDelegate", "Cancel"), "cancel"))
        return links

    # ---- QStyledItemDelegate --------------------------------------------------------------
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        message: Message | None = index.data(ObjectRole)
        width = self.row_width()
        if message is None:
            return QSize(width, 0)
        key = (message.id, width)
        height = self._heights.get(key)
        if height is None:
            height = self.geometry(QRect(0, 0, width, 10_000), message, option.font).height
            self._heights[key] = height
        return QSize(width, height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        message: Message | None = index.data(ObjectRole)
        if message is None:
            return
        rect = QRect(option.rect.left(), option.rect.top(), self.row_width(), option.rect.height())
        g = self.geometry(rect, message, option.font)
        palette = option.palette
        ours = message.direction == "out"
        dark = is_dark(palette)
        text_color = palette.color(QPalette.ColorRole.Text)
        dim = QColor(text_color)
        dim.setAlphaF(0.6)
        small = small_font(option.font)

        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        paint_avatar(painter, g.avatar, self._header_text(message)[0])

        # Header: author (bold) and local time; a dot marks an unread audience message.
        author, when = self._header_text(message)
        painter.setFont(bold_font(small))
        painter.setPen(text_color)
        bold_fm = QFontMetrics(bold_font(small))
        author_w = min(bold_fm.horizontalAdvance(author), g.header.width())
        align = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        author_x = g.header.right() - bold_fm.horizontalAdvance(author) - QFontMetrics(small).horizontalAdvance("  " + when) if ours else g.header.left()
        author_x = max(g.header.left(), author_x)
        painter.drawText(QRect(author_x, g.header.top(), author_w, g.header.height()), align,
                         bold_fm.elidedText(author, Qt.TextElideMode.ElideRight, g.header.width()))
        painter.setFont(small)
        painter.setPen(dim)
        painter.drawText(QRect(author_x + author_w, g.header.top(), g.header.width(), g.header.height()),
                         align, "  " + when)
        if message.direction == "in" and not message.is_read:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#e5484d"))
            painter.drawEllipse(QPointF(g.header.left() - 5, g.header.center().y()), 3, 3)

        # The bubble.
        fill = QColor("#2b5278" if dark else "#d7f0c9") if ours else QColor("#2f3437" if dark else "#f1f2f4")
        painter.setPen(palette.color(QPalette.ColorRole.Highlight)
                       if option.state & QStyle.StateFlag.State_Selected else Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(g.bubble, 8, 8)

        if g.quote is not None:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(dim)
            painter.drawRect(QRect(g.quote.left(), g.quote.top(), 2, g.quote.height()))
            painter.setPen(dim)
            quote_fm = QFontMetrics(small)
            painter.drawText(g.quote.adjusted(PAD, 0, 0, 0), align,
                             quote_fm.elidedText((message.reply_to_text or "").replace("\n", " "),
                                                 Qt.TextElideMode.ElideRight, g.quote.width() - PAD))

        painter.setPen(text_color)
        layout, _, _ = plain_text_layout(message.text, option.font, g.text.width())
        layout.draw(painter, QPointF(g.text.topLeft()))

        # Footer: our reply's status, then the Retry / Cancel links.
        if g.footer is not None:
            failed = message.reply_status in NEEDS_ATTENTION
            painter.setFont(small)
            painter.setPen(QColor("#d63939") if failed else dim)
            footer_fm = QFontMetrics(small)
            painter.drawText(g.footer, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                             footer_fm.elidedText(status_text(message), Qt.TextElideMode.ElideRight,
                                                  g.footer.width()))
            link_color = palette.color(QPalette.ColorRole.Link)
            for rect_, (label, _) in zip([r for r in (g.retry, g.cancel) if r is not None],
                                         self._links(message)):
                link_font = QFont(small)
                link_font.setUnderline(True)
                painter.setFont(link_font)
                painter.setPen(link_color)
                painter.drawText(rect_, Qt.AlignmentFlag.AlignCenter, label)
        painter.restore()

    def editorEvent(self, event: QEvent, model, option: QStyleOptionViewItem,  # noqa: N802
                    index: QModelIndex) -> bool:
        """A left click on Retry or Cancel asks for that action (the row is not edited)."""
        if event.type() != QEvent.Type.MouseButtonRelease or not isinstance(event, QMouseEvent):
            return False
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        message: Message | None = index.data(ObjectRole)
        if message is None or not message.reply_id:
            return False
        action = self.link_at(option.rect, message, option.font, event.position().toPoint())
        if action == "retry":
            self.retry_requested.emit(message.reply_id)
            return True
        if action == "cancel":
            self.cancel_requested.emit(message.reply_id)
            return True
        return False

    def helpEvent(self, event: QHelpEvent, view, option: QStyleOptionViewItem,  # noqa: N802
                  index: QModelIndex) -> bool:
        """Hovering a failed reply's status shows the engine's reason and its code."""
        message: Message | None = index.data(ObjectRole)
        tip = self.status_tooltip(option.rect, message, option.font, event.pos()) if message else ""
        if not tip:
            return super().helpEvent(event, view, option, index)
        QToolTip.showText(event.globalPos(), plain_tooltip(tip), view)
        return True

    def status_tooltip(self, rect: QRect, message: Message, font: QFont, pos) -> str:
        """The tooltip of this row's status footer at `pos` ("" elsewhere or when none)."""
        rect = QRect(rect.left(), rect.top(), self.row_width(), rect.height())
        g = self.geometry(rect, message, font)
        if g.footer is None or not g.footer.contains(pos):
            return ""
        waiting = message.reply_status == "queued" and message.reply_wait_code
        return reason_detail(message.reply_error, message.reply_wait_code if waiting else message.reply_error_code)

    def link_at(self, rect: QRect, message: Message, font: QFont, pos) -> str | None:
        """Which link ("retry", "cancel") of this row is at `pos`, if any."""
        rect = QRect(rect.left(), rect.top(), self.row_width(), rect.height())
        g = self.geometry(rect, message, font)
        if g.retry is not None and g.retry.contains(pos):
            return "retry"
        if g.cancel is not None and g.cancel.contains(pos):
            return "cancel"
        return None
