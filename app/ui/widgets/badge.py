"""An icon with a count badge (the tray's unread number), drawn with QPainter."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter

BADGE_COLOUR = "#e11d48"


def badge_text(count: int) -> str:
    return "99+" if count > 99 else str(count)


def badge_icon(icon: QIcon, count: int, size: int = 64) -> QIcon:
    """`icon` with a red badge showing `count` in its top-right corner (no badge for 0)."""
    pixmap = icon.pixmap(size, size)
    if count <= 0:
        return QIcon(pixmap)
    text = badge_text(count)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    height = size * 0.56
    width = max(height, height * (0.42 + 0.3 * len(text)))
    rect = QRectF(size - width, 0, width, height)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(BADGE_COLOUR))
    painter.drawRoundedRect(rect, height / 2, height / 2)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(height * (0.72 if len(text) == 1 else 0.6)))
    painter.setFont(font)
    painter.setPen(QColor("#ffffff"))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return QIcon(pixmap)
