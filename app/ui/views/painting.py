"""Drawing pieces the row delegates share: initials avatars, unread badges, times, colours.

Avatars are drawn from the name (initials on a colour derived from the name) rather than
downloaded: platform avatar URLs point at the internet, which the console must not depend on
to paint a row. The colour follows the name shown beside it, the one thing every list knows of
a person, so a customer has the same colour in the topic list and in the chat. An account's
own avatar, which the engine keeps at login, is painted instead where a row has it.
"""
from __future__ import annotations

import zlib
from datetime import datetime

from PySide6.QtCore import QCoreApplication, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPalette, QPixmap

LOGIN_STATE_COLORS = {
    "logged_in": QColor("#2fb344"),
    "logging_in": QColor("#3b82f6"),
    "expired": QColor("#f59f00"),
    "needs_verification": QColor("#f59f00"),
    "blocked": QColor("#d63939"),
    "not_logged_in": QColor("#9aa0a6"),
}
BADGE_COLOR = QColor("#e5484d")


def initials(name: str | None) -> str:
    """One or two letters for an avatar: "Li Lei" -> "LL", "小明" -> "小"."""
    words = (name or "").split()
    if not words:
        return "?"
    if len(words) >= 2 and words[0][:1].isascii() and words[1][:1].isascii():
        return (words[0][:1] + words[1][:1]).upper()
    return words[0][:1].upper()


def avatar_color(name: str | None) -> QColor:
    """A pleasant colour that is always the same for the same name."""
    return QColor.fromHsl(zlib.crc32((name or "").encode("utf-8")) % 360, 140, 130)


def paint_avatar(painter: QPainter, rect: QRect, name: str | None, image: QPixmap | None = None) -> None:
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if image is not None:  # the image, cut to the circle the initials would fill
        clip = QPainterPath()
        clip.addEllipse(QRectF(rect))
        painter.setClipPath(clip)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(rect, image)
        painter.restore()
        return
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(avatar_color(name))
    painter.drawEllipse(rect)
    font = QFont(painter.font())
    font.setBold(True)
    font.setPixelSize(max(8, rect.height() * 2 // 5))
    painter.setFont(font)
    painter.setPen(QColor("white"))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, initials(name))
    painter.restore()


def paint_status_dot(painter: QPainter, center: QPointF, radius: float, color: QColor,
                     ring: QColor) -> None:
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(ring)
    painter.setBrush(color)
    painter.drawEllipse(center, radius, radius)
    painter.restore()


def badge_text(count: int) -> str:
    return "99+" if count > 99 else str(count)


def paint_badge(painter: QPainter, right: int, center_y: int, count: int) -> QRect:
    """A red pill with the unread count, right-aligned at `right`; returns its rect."""
    painter.save()
    font = QFont(painter.font())
    font.setBold(True)
    font.setPixelSize(11)
    painter.setFont(font)
    text = badge_text(count)
    height = 18
    width = max(height, QFontMetrics(font).horizontalAdvance(text) + 10)
    rect = QRect(right - width, center_y - height // 2, width, height)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(BADGE_COLOR)
    painter.drawRoundedRect(QRectF(rect), height / 2, height / 2)
    painter.setPen(QColor("white"))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    painter.restore()
    return rect


def format_time(when: datetime | None, now: datetime | None = None) -> str:
    """A UTC instant in the operator's local time: "14:05" today, "11-24 14:05" this year,
    else "2025-11-24"."""
    if when is None:
        return ""
    local = when.astimezone()
    now = (now or datetime.now().astimezone()).astimezone()
    if local.date() == now.date():
        return local.strftime("%H:%M")
    if local.year == now.year:
        return local.strftime("%m-%d %H:%M")
    return local.strftime("%Y-%m-%d")


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def small_font(base: QFont) -> QFont:
    font = QFont(base)
    font.setPointSizeF(max(6.0, base.pointSizeF() * 0.85))
    return font


def bold_font(base: QFont) -> QFont:
    font = QFont(base)
    font.setBold(True)
    return font


def platform_label(name: str) -> str:
    """A platform's short name for list rows, in the console's language."""
    labels = {
        "sandbox": QCoreApplication.translate("Platform", "Sandbox"),
        "douyin": QCoreApplication.translate("Platform", "Douyin"),
    }
    return labels.get(name, name)


def login_state_label(status: str) -> str:
    labels = {
        "logged_in": QCoreApplication.translate("LoginState", "Logged in"),
        "logging_in": QCoreApplication.translate("LoginState", "Logging in…"),
        "expired": QCoreApplication.translate("LoginState", "Session expired"),
        "needs_verification": QCoreApplication.translate("LoginState", "Needs verification"),
        "blocked": QCoreApplication.translate("LoginState", "Blocked"),
        "not_logged_in": QCoreApplication.translate("LoginState", "Not logged in"),
    }
    return labels.get(status, status)
