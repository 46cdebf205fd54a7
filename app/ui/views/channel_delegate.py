"""A channel (account) row: avatar with a login-state dot, name, platform, last message,
unread badge."""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QObject

from app.engine.im.types import Channel

from ..reasons import account_problem
from .avatar_images import AvatarImages
from .painting import LOGIN_STATE_COLORS, format_time, login_state_label, platform_label
from .rows import RowContent, RowDelegate


class ChannelDelegate(RowDelegate):
    def __init__(self, avatars: AvatarImages, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.avatars = avatars

    def row_content(self, item: Channel) -> RowContent:
        problem = account_problem(item.login_status, item.last_error)
        if item.login_status != "logged_in" or problem:
            # The operator must see why a channel is quiet before reading old messages.
            preview = login_state_label(item.login_status)
            if problem:
                preview = QCoreApplication.translate("ChannelDelegate", "{state}: {problem}").replace(
                    "{state}", preview).replace("{problem}", problem)
        else:
            preview = item.last_message_preview or QCoreApplication.translate(
                "ChannelDelegate", "No messages yet")
        return RowContent(
            title=item.name,
            preview=preview,
            avatar_name=item.name,
            avatar_image=self.avatars.get(item.account_id),
            time_text=format_time(item.last_message_at),
            unread=item.unread_count,
            dot=LOGIN_STATE_COLORS.get(item.login_status, LOGIN_STATE_COLORS["not_logged_in"]),
            tag=platform_label(item.platform),
        )
