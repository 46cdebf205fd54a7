"""Light and dark looks, and the app's icons.

A theme is the Fusion style, a palette (the colours every widget draws with) and the style
sheets in resources/styles (common.qss shapes widgets with `palette(...)` colours; light.qss /
dark.qss add the few colours a palette has no role for). Theme "system" follows the desktop's
colour scheme (QStyleHints.colorScheme) and changes with it while the console runs.
"""
from __future__ import annotations

from typing import Literal

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

import resources
from app.engine.settings import Settings

ThemeName = Literal["light", "dark"]

# role -> colour per theme; roles left out keep Fusion's value derived from these.
_PALETTES: dict[str, dict[QPalette.ColorRole, str]] = {
    "light": {
        QPalette.ColorRole.Window: "#f5f6f8",
        QPalette.ColorRole.WindowText: "#1f2937",
        QPalette.ColorRole.Base: "#ffffff",
        QPalette.ColorRole.AlternateBase: "#f8fafc",
        QPalette.ColorRole.Text: "#111827",
        QPalette.ColorRole.PlaceholderText: "#6b7280",
        QPalette.ColorRole.Button: "#ffffff",
        QPalette.ColorRole.ButtonText: "#1f2937",
        QPalette.ColorRole.Mid: "#d1d5db",
        QPalette.ColorRole.Highlight: "#2563eb",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#2563eb",
        QPalette.ColorRole.ToolTipBase: "#ffffff",
        QPalette.ColorRole.ToolTipText: "#111827",
    },
    "dark": {
        QPalette.ColorRole.Window: "#1e1f22",
        QPalette.ColorRole.WindowText: "#e5e7eb",
        QPalette.ColorRole.Base: "#2b2d31",
        QPalette.ColorRole.AlternateBase: "#313338",
        QPalette.ColorRole.Text: "#f3f4f6",
        QPalette.ColorRole.PlaceholderText: "#9ca3af",
        QPalette.ColorRole.Button: "#2b2d31",
        QPalette.ColorRole.ButtonText: "#e5e7eb",
        QPalette.ColorRole.Mid: "#4b5563",
        QPalette.ColorRole.Highlight: "#3b82f6",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#60a5fa",
        QPalette.ColorRole.ToolTipBase: "#2b2d31",
        QPalette.ColorRole.ToolTipText: "#e5e7eb",
    },
}

_state: dict[str, object] = {"settings": None, "following": False, "current": None}


def resolve_theme(choice: str) -> ThemeName:
    """The theme to show for a settings value ("system" asks the desktop)."""
    if choice in ("light", "dark"):
        return choice  # type: ignore[return-value]
    scheme = QGuiApplication.styleHints().colorScheme()
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"


def apply_theme(app: QApplication, settings: Settings) -> ThemeName:
    """Apply settings.theme to the whole application now; returns the theme shown."""
    _state["settings"] = settings
    if app.windowIcon().isNull():
        app.setWindowIcon(app_icon())
    if not _state["following"]:
        # Connected once; re-applies only while the setting says "system".
        app.styleHints().colorSchemeChanged.connect(_on_color_scheme_changed)
        _state["following"] = True
    theme = resolve_theme(settings.theme)
    if theme == _state["current"]:
        return theme
    app.setStyle("Fusion")
    palette = QPalette()
    for role, colour in _PALETTES[theme].items():
        palette.setColor(role, QColor(colour))
    # Disabled text: a muted version of the normal one, in every theme.
    muted = QColor(_PALETTES[theme][QPalette.ColorRole.PlaceholderText])
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, muted)
    app.setPalette(palette)
    app.setStyleSheet(resources.read_text("styles", "common.qss") + resources.read_text("styles", f"{theme}.qss"))
    _state["current"] = theme
    return theme


def current_theme() -> ThemeName | None:
    return _state["current"]  # type: ignore[return-value]


def _on_color_scheme_changed(_scheme: Qt.ColorScheme) -> None:
    settings = _state["settings"]
    app = QApplication.instance()
    if isinstance(settings, Settings) and settings.theme == "system" and isinstance(app, QApplication):
        apply_theme(app, settings)


# ---- Icons ----------------------------------------------------------------------------------
def app_icon_path() -> str:
    return str(resources.resource_path("icons", "app.svg"))


def app_icon() -> QIcon:
    return QIcon(app_icon_path())


def platform_icon(platform: str) -> QIcon:
    """The platform's icon (resources/icons/platform-<name>.svg), a generic globe otherwise."""
    name = f"platform-{platform}.svg"
    if not resources.exists("icons", name):
        name = "platform-generic.svg"
    path = str(resources.resource_path("icons", name))
    icon = QIcon(path)
    # As it is on a selected row too: Qt's derived "selected" pixmap washes the logo out
    # into a pale block on the highlight.
    icon.addFile(path, QSize(), QIcon.Mode.Selected)
    return icon
