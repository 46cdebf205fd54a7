"""A topic row: a work (comment threads) or a DM conversation, with its last message."""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from app.engine.im.types import Topic

from .painting import format_time
from .rows import RowContent, RowDelegate


class TopicDelegate(RowDelegate):
    def row_content(self, item: Topic) -> RowContent:
        preview = item.last_message_preview or ""
        if preview and item.last_message_from:
            preview = f"{item.last_message_from}: {preview}"
        tag = (QCoreApplication.translate("TopicDelegate", "DM") if item.is_private
               else QCoreApplication.translate("TopicDelegate", "Comments"))
        # A reply that did not go out must be seen without opening every conversation.
        warning = ""
        failed = item.failed_replies  # (a plain name: lupdate skips a call whose count is an attribute)
        if failed:
            warning = QCoreApplication.translate("TopicDelegate", "✗ %n not sent", "", failed)
        return RowContent(
            title=item.title,
            preview=preview,
            avatar_name=item.title,
            time_text=format_time(item.last_message_at),
            unread=item.unread_count,
            tag=tag,
            warning=warning,
        )
