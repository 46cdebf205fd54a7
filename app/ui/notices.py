"""Desktop notifications through the desktop's own notification service (desktop-notifier:
freedesktop notifications over D-Bus on Linux, the notification centres of macOS and Windows),
which works where there is no system tray (GNOME, most Wayland desktops).

Notification text comes from the platforms (a customer's message), so it is sent as plain
text: a freedesktop server that advertises "body-markup" would read `<b>` or `&amp;` in the
body as markup, so the body is escaped for such a server. `send` returns whether the service
took the notification, so the caller can fall back (the tray's balloon, a taskbar alert).
"""
from __future__ import annotations

import html
import logging
import sys
from pathlib import Path
from typing import Callable, Sequence

log = logging.getLogger(__name__)

_SERVICE = "org.freedesktop.Notifications"
_PATH = "/org/freedesktop/Notifications"


class DesktopNotices:
    def __init__(self, app_name: str, icon_path: str | None = None) -> None:
        self._app_name = app_name
        self._icon_path = icon_path
        self._notifier = None  # made at the first notification (it may connect to D-Bus)
        self._markup: bool | None = None  # whether the D-Bus server parses the body as markup

    async def send(self, title: str, body: str, *, urgent: bool = False,
                   on_clicked: Callable[[], None] | None = None,
                   buttons: Sequence[tuple[str, Callable[[], None]]] = ()) -> bool:
        """Show a notification, with a button per (label, what it does); True when the
        desktop's service took it."""
        try:
            from desktop_notifier import Button, DesktopNotifier, Icon, Urgency
        except ImportError as exc:  # an install without it still notifies through the tray
            log.info("desktop notifications unavailable: %s", exc)
            return False
        if self._notifier is None:
            icon = Icon(path=Path(self._icon_path)) if self._icon_path else None
            self._notifier = DesktopNotifier(app_name=self._app_name, app_icon=icon)
        if sys.platform.startswith("linux"):
            markup = await self._body_is_markup()
            if markup is None:
                return False  # no session bus or no notification server: nobody to tell
            if markup:
                body = html.escape(body, quote=False)
        delivered: list[bool] = []
        # desktop-notifier logs and swallows a failure (no D-Bus, no server); on_dispatched
        # is how it says the service took the notification.
        await self._notifier.send(
            title, body, urgency=Urgency.Critical if urgent else Urgency.Normal,
            on_dispatched=lambda: delivered.append(True), on_clicked=on_clicked,
            buttons=[Button(title=label, on_pressed=pressed) for label, pressed in buttons],
        )
        return bool(delivered)

    async def _body_is_markup(self) -> bool | None:
        if self._markup is None:
            self._markup = await _server_has_body_markup()  # None (no server yet): ask again
        return self._markup


async def _server_has_body_markup() -> bool | None:
    """Whether the session's freedesktop notification server advertises "body-markup"
    (None: there is no server to ask)."""
    try:
        from dbus_fast.aio import MessageBus

        bus = await MessageBus().connect()
    except Exception as exc:  # no session bus: desktop-notifier will not deliver either
        log.debug("no D-Bus session bus: %s", exc)
        return None
    try:
        introspection = await bus.introspect(_SERVICE, _PATH)
        server = bus.get_proxy_object(_SERVICE, _PATH, introspection).get_interface(_SERVICE)
        return "body-markup" in await server.call_get_capabilities()
    except Exception as exc:  # no notification server running
        log.debug("no notification server: %s", exc)
        return None
    finally:
        bus.disconnect()
