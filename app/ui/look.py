"""The console's look (theme and language), applied at start and whenever the settings change.

The settings service announces every saved change (SettingsChanged); `follow_settings` applies
a changed theme or language at once, whoever changed it (the settings dialog today).
"""
from __future__ import annotations

import logging
from typing import Callable

from PySide6.QtWidgets import QApplication

from app.engine.bus import EventBus
from app.engine.events import SettingsChanged
from app.engine.settings import Settings

log = logging.getLogger(__name__)

LOOK_FIELDS = frozenset({"language", "theme"})


def apply_look(app: QApplication, settings: Settings) -> None:
    """Theme and language, when those modules are present (they are optional extras)."""
    try:
        from .i18n import install_translator
        from .theme import apply_theme
    except ImportError as exc:
        log.warning("theme/translations unavailable: %s", exc)
        return
    apply_theme(app, settings)
    install_translator(app, settings)


def follow_settings(bus: EventBus) -> Callable[[], None]:
    """Apply theme and language changes as they are saved; returns the unsubscribe call."""

    def changed(event: SettingsChanged) -> None:
        app = QApplication.instance()
        if event.changed & LOOK_FIELDS and isinstance(app, QApplication):
            apply_look(app, event.settings)

    return bus.subscribe(SettingsChanged, changed)
