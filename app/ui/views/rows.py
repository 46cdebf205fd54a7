"""The two-line list row shared by the channel and topic lists.

    (avatar)  Title ................. 14:05
              preview of the last message  (3)

Subclasses say what goes where (`row_content`); painting and sizing live here once.
Text is drawn with QPainter.drawText, which never interprets markup.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QPointF, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from ..models.keyed import ObjectRole
from .painting import bold_font, paint_avatar, paint_badge, paint_status_dot, small_font

ROW_HEIGHT = 60
AVATAR = 40
MARGIN = 10
TAG_GAP = 6
WARNING_COLOR = QColor("#d63939")


@dataclass(frozen=True)
class RowContent:
    title: str
    preview: str
    avatar_name: str
    time_text: str
    unread: int
    dot: QColor | None = None  # a state dot on the avatar (login state)
    avatar_image: QPixmap | None = None  # painted instead of the initials (an account's own avatar)
    tag: str = ""  # a short grey label after the title (platform, "DM")
    warning: str = ""  # red words before the preview (a reply that was not sent)


class RowDelegate(QStyledItemDelegate):
    def row_content(self, item: object) -> RowContent:
        raise NotImplementedError

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        # The narrowest a row may be, not the width it has now: QListView widens rows to its
        # viewport, and a row hinting the width it had before a vertical scrollbar appeared
        # would stay wider than the list (a horizontal scrollbar, the times cut off).
        return QSize(AVATAR + 2 * MARGIN, ROW_HEIGHT)

    @staticmethod
    def fit_title(title: str, tag: str, room: int, title_fm: QFontMetrics,
                  tag_fm: QFontMetrics) -> tuple[str, str]:
        """The title (elided only when it cannot fit) and the tag (dropped before the title
        is cut) for `room` pixels."""
        tag_width = tag_fm.horizontalAdvance(tag) + TAG_GAP if tag else 0
        if title_fm.horizontalAdvance(title) + tag_width <= room:
            return title, tag
        if title_fm.horizontalAdvance(title) <= room:
            return title, ""
        return title_fm.elidedText(title, Qt.TextElideMode.ElideRight, max(0, room)), ""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        item = index.data(ObjectRole)
        if item is None:
            return
        content = self.row_content(item)
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        if selected:
            painter.fillRect(option.rect, palette.color(QPalette.ColorRole.Highlight))
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(option.rect, palette.color(QPalette.ColorRole.AlternateBase))
        text_color = palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        dim_color = QColor(text_color)
        dim_color.setAlphaF(0.65)

        r = option.rect
        avatar = QRect(r.left() + MARGIN, r.center().y() - AVATAR // 2, AVATAR, AVATAR)
        paint_avatar(painter, avatar, content.avatar_name, content.avatar_image)
        if content.dot is not None:
            paint_status_dot(painter, QPointF(avatar.right() - 4, avatar.bottom() - 4), 5,
                             content.dot, palette.color(QPalette.ColorRole.Base))

        left = avatar.right() + MARGIN
        right = r.right() - MARGIN
        small = small_font(option.font)
        small_fm = QFontMetrics(small)
        title_font = bold_font(option.font)
        title_fm = QFontMetrics(title_font)
        top = r.top() + (ROW_HEIGHT - title_fm.height() - small_fm.height() - 6) // 2

        # First line: title (+ tag) on the left, time on the right.
        painter.setFont(small)
        painter.setPen(dim_color)
        time_width = small_fm.horizontalAdvance(content.time_text)
        painter.drawText(QRect(right - time_width, top, time_width, title_fm.height()),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         content.time_text)
        title_room = right - time_width - MARGIN - left
        title, tag = self.fit_title(content.title, content.tag, title_room, title_fm, small_fm)
        painter.setFont(title_font)
        painter.setPen(text_color)
        title_rect = QRect(left, top, title_fm.horizontalAdvance(title), title_fm.height())
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, title)
        if tag:
            painter.setFont(small)
            painter.setPen(dim_color)
            painter.drawText(QRect(title_rect.right() + TAG_GAP, top, small_fm.horizontalAdvance(tag) + 1,
                                   title_fm.height()),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, tag)

        # Second line: preview on the left, unread badge on the right.
        second = top + title_fm.height() + 6
        preview_right = right
        if content.unread > 0:
            badge = paint_badge(painter, right, second + small_fm.height() // 2, content.unread)
            preview_right = badge.left() - MARGIN
        painter.setFont(small)
        if content.warning:
            warning = small_fm.elidedText(content.warning, Qt.TextElideMode.ElideRight,
                                          max(0, preview_right - left))
            painter.setPen(palette.color(QPalette.ColorRole.HighlightedText) if selected else WARNING_COLOR)
            painter.drawText(QRect(left, second, max(0, preview_right - left), small_fm.height()),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, warning)
            left += small_fm.horizontalAdvance(warning) + TAG_GAP
        painter.setPen(dim_color)
        preview = small_fm.elidedText(content.preview.replace("\n", " "),
                                      Qt.TextElideMode.ElideRight, max(0, preview_right - left))
        painter.drawText(QRect(left, second, max(0, preview_right - left), small_fm.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, preview)
        painter.restore()


