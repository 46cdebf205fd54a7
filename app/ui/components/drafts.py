"""Unsent reply texts, one per topic.

A draft belongs to the conversation it was typed in: switching topic or account must never
carry text over to another customer, where Enter would post it. The chat pane keeps each
topic's draft here as it is typed and puts it back when the topic is opened again. With a
settings file (the window's state file, where the selection is kept too) drafts survive a
restart; without one (tests, a pane on its own) they live as long as the pane.
"""
from __future__ import annotations

import json
import logging

from PySide6.QtCore import QSettings

from app.engine.im.types import TopicRef

log = logging.getLogger(__name__)

SETTINGS_KEY = "drafts"


def _key(ref: TopicRef) -> str:
    # JSON, not "a/b/c": platform ids may contain any character, QSettings keys may not.
    return json.dumps([ref.account_id, ref.kind, ref.platform_id], ensure_ascii=False)


class Drafts:
    def __init__(self, settings: QSettings | None = None) -> None:
        self._settings = settings
        self._texts: dict[str, str] = {}
        if settings is not None:
            stored = settings.value(SETTINGS_KEY)
            try:
                loaded = json.loads(stored) if stored else {}
            except ValueError:
                log.warning("unreadable drafts in %s: starting without", settings.fileName())
                loaded = {}
            if isinstance(loaded, dict):
                self._texts = {k: v for k, v in loaded.items() if isinstance(v, str) and v}

    def get(self, ref: TopicRef) -> str:
        return self._texts.get(_key(ref), "")

    def put(self, ref: TopicRef, text: str) -> None:
        """Remember `text` as the topic's draft (an empty text drops it)."""
        key = _key(ref)
        if self._texts.get(key, "") == text:
            return
        if text:
            self._texts[key] = text
        else:
            self._texts.pop(key, None)
        if self._settings is not None:
            self._settings.setValue(SETTINGS_KEY, json.dumps(self._texts, ensure_ascii=False))
