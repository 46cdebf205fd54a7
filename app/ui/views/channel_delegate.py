"""A channel (account) row: avatar with a login-state dot, name, platform, last message,
unread badge."""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from app.engine.im.types import Channel

from .painting import LOGIN_STATE_COLORS, format_time, login_state_label, platform_label
from .rows import RowContent, RowDelegate


class ChannelDelegate(RowDelegate):
    def row_content(self, item: Channel) -> RowContent:
        if item.login_status != "logged_in" or item.last_error:
            # The operator must see why a channel is quiet before reading old messages.
            preview = login_state_label(item.login_status)
            if item.last_error:
                preview = f"{preview}: {item.last_error}"
        else:
            preview = item.last_message_preview or QCoreApplication.translate(
                "ChannelDelegate", "No messages yet")
        return RowContent(
            title=item.name,
            preview=preview,
            avatar_name=item.name,
            avatar_key=item.account_id,
            time_text=format_time(item.last_message_at),
            unread=item.unread_count,
            dot=LOGIN_STATE_COLORS.get(item.login_status, LOGIN_STATE_COLORS["not_logged_in"]),
            tag=platform_label(item.platform),
        )
