"""The tray icon: the unread count at a glance, desktop notifications, and a way back to the
window.

The count (tooltip and a badge on the icon) follows the engine's unread totals: new messages
bring them in their event, read marks make the tray re-read them (once per burst). New
inbound messages raise one notification per burst, named from the account's row in the event,
unless notifications are off or do-not-disturb is on; engine warnings (an expired session, a
blocked reply) are shown even then, since they need someone to act. Notifications go to the
desktop's notification service (app.ui.notices), which needs no tray; where that service is
missing, the tray's balloon shows them, and a window in the background also gets
`QApplication.alert` (a blinking taskbar entry). Where the desktop has no tray, the icon is
not shown, and the count shows in the window's title and status bar.
"""
from __future__ import annotations

import logging
from typing import Callable

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon, QWidget

from app.engine.engine import Engine
from app.engine.events import FINISH_VERIFICATION, MessagesAdded, Notification
from app.engine.im.types import Channel, UnreadTotals
from app.ui.bridge import EngineBridge, spawn
from app.ui.notices import DesktopNotices
from app.ui.theme import app_icon, app_icon_path
from app.ui.widgets.badge import badge_icon

log = logging.getLogger(__name__)

COUNT_DELAY_MS = 150  # one unread query per burst of events
NOTIFICATION_MS = 6000


class Tray(QObject):
    #: (title, body): a notification was shown (or would have been, where there is no tray).
    notified = Signal(str, str)
    #: int: the unread total changed.
    unread_changed = Signal(int)
    #: The operator chose Quit in the tray menu (the window connects its shutdown to it).
    quit_requested = Signal()
    #: account id: the operator chose to finish a platform's check (a notification's button,
    #: or a click on the tray's balloon saying so); the window opens a visible login.
    verification_requested = Signal(str)

    def __init__(self, engine: Engine, window: QWidget) -> None:
        super().__init__(window)
        self.engine = engine
        self.window = window
        self.unread = 0
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.icon = QSystemTrayIcon(app_icon(), self)
        self.icon.activated.connect(self._on_activated)
        self.icon.messageClicked.connect(self._on_balloon_clicked)
        self._balloon_action: Callable[[], None] | None = None  # what a click on the balloon does
        self.menu = QMenu(window)
        self.show_action = QAction(self.menu)
        self.show_action.triggered.connect(self.toggle_window)
        self.dnd_action = QAction(self.menu)
        self.dnd_action.setCheckable(True)
        self.dnd_action.toggled.connect(self.set_do_not_disturb)
        self.quit_action = QAction(self.menu)
        self.quit_action.triggered.connect(self.quit_requested)
        self.menu.addAction(self.show_action)
        self.menu.addAction(self.dnd_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.menu.aboutToShow.connect(self.retranslate)
        self.icon.setContextMenu(self.menu)

        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(COUNT_DELAY_MS)
        self._count_timer.timeout.connect(self.refresh_count)
        self._counting = 0  # unread queries running
        self._recount = False
        self.events = EngineBridge(engine.bus, self)
        self.events.messages_added.connect(self._on_messages_added)
        self.events.unread_changed.connect(lambda _e: self._count_timer.start())
        self.events.messages_updated.connect(lambda _e: self._count_timer.start())
        self.events.accounts_changed.connect(lambda _e: self._count_timer.start())
        self.events.notification.connect(self._on_notification)
        self.notices = DesktopNotices(QApplication.applicationDisplayName() or "HisCRM Console",
                                      app_icon_path())
        self.delivered: list[str] = []  # how each notification went out ("desktop", "tray", "none")
        self.menu.installEventFilter(self)  # the menu hears of language changes; we don't
        self.retranslate()
        if self.available:
            self.icon.show()
        else:
            log.info("no system tray on this desktop; unread counts show in the window only")
        self.refresh_count()

    # ---- Public API ---------------------------------------------------------------------
    def refresh_count(self) -> None:
        self._counting += 1
        spawn(self.engine.views.unread_totals(), on_done=self._counted, on_error=self._count_failed)

    def _counted(self, totals: UnreadTotals | None) -> None:
        self._counting -= 1
        if self._recount:  # new messages came meanwhile: this count may predate them
            self._recount = False
            self.refresh_count()
        elif not self._counting and totals is not None:
            self._show_count(totals)

    def _count_failed(self, exc: BaseException) -> None:
        log.warning("could not read the unread count: %s", exc)
        self._counted(None)

    def toggle_window(self) -> None:
        if self.window.isVisible() and not self.window.isMinimized():
            self.window.hide()
        else:
            self.show_window()

    def show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def set_do_not_disturb(self, on: bool) -> None:
        """Switch do-not-disturb (the settings service saves the choice)."""
        try:
            self.engine.settings_service.update(do_not_disturb=on)
        except OSError as exc:
            log.warning("could not save the do-not-disturb choice: %s", exc)
        self.retranslate()

    def notify(self, title: str, body: str, *, urgent: bool = False,
               action: tuple[str, Callable[[], None]] | None = None) -> bool:
        """Show a desktop notification unless the settings silence it; True when shown.
        `action`: a button (label, what it does) on the notification; where the tray's balloon
        shows it instead, a click on the balloon does it."""
        settings = self.engine.settings
        if not urgent and (not settings.notifications or settings.do_not_disturb):
            return False
        spawn(self._deliver(title, body, urgent, action))
        self.notified.emit(title, body)
        return True

    async def _deliver(self, title: str, body: str, urgent: bool,
                       action: tuple[str, Callable[[], None]] | None) -> None:
        if await self.notices.send(title, body, urgent=urgent, on_clicked=self.show_window,
                                   buttons=[action] if action else ()):
            self.delivered.append("desktop")
        elif self.available and QSystemTrayIcon.supportsMessages():
            icon = QSystemTrayIcon.MessageIcon.Warning if urgent else QSystemTrayIcon.MessageIcon.Information
            self._balloon_action = action[1] if action else None
            self.icon.showMessage(title, body, icon, NOTIFICATION_MS)
            self.delivered.append("tray")
        else:
            self.delivered.append("none")
        if not self.window.isActiveWindow():
            QApplication.alert(self.window)

    def close(self) -> None:
        """Stop following the engine and take the icon off the tray (the window is closing)."""
        self.events.close()
        self.icon.hide()

    # ---- Events -------------------------------------------------------------------------
    def _show_count(self, totals: UnreadTotals) -> None:
        self.unread = totals.total
        self.icon.setIcon(badge_icon(app_icon(), self.unread))
        self.retranslate()
        self.unread_changed.emit(self.unread)

    def _on_messages_added(self, batch: list[MessagesAdded]) -> None:
        if self._counting:
            self._recount = True
        elif not self._count_timer.isActive():  # (a count about to start reads newer totals)
            self._show_count(batch[-1].unread)
        new, by_id = {}, {}
        for event in batch:
            by_id[event.account_id] = event.channel  # the last is the newest
            if event.inbound_new:
                new[event.account_id] = new.get(event.account_id, 0) + event.inbound_new
        if new:
            self._notify_new(new, by_id)

    def _notify_new(self, new: dict[str, int], by_id: dict[str, Channel]) -> None:
        total = sum(new.values())
        if len(new) == 1:
            account_id, count = next(iter(new.items()))
            channel = by_id.get(account_id)
            title = channel.name if channel else self.tr("New messages")
            if count == 1 and channel is not None and channel.last_message_preview:
                body = channel.last_message_preview
            else:
                body = self.tr("%n new message(s)", "", count)
        else:
            title = self.tr("New messages")
            body = self.tr("%n new message(s) on {accounts} accounts", "", total).format(accounts=len(new))
        self.notify(title, body)

    def _on_notification(self, event: Notification) -> None:
        action = None
        if event.action == FINISH_VERIFICATION and event.account_id is not None:
            account_id = event.account_id
            action = (self.tr("Open a browser to verify"), lambda: self._finish_verification(account_id))
        self.notify(event.title, event.body, urgent=event.level in ("warning", "error"), action=action)

    def _finish_verification(self, account_id: str) -> None:
        self.show_window()
        self.verification_requested.emit(account_id)

    def _on_balloon_clicked(self) -> None:
        action, self._balloon_action = self._balloon_action, None
        self.show_window()
        if action is not None:
            action()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        return False

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.toggle_window()

    def retranslate(self) -> None:
        if self.unread:
            self.icon.setToolTip(self.tr("HisCRM Console: %n unread", "", self.unread))
        else:
            self.icon.setToolTip(self.tr("HisCRM Console: all read"))
        hidden = not self.window.isVisible() or self.window.isMinimized()
        self.show_action.setText(self.tr("Show window") if hidden else self.tr("Hide window"))
        self.dnd_action.setText(self.tr("Do not disturb"))
        self.dnd_action.blockSignals(True)
        self.dnd_action.setChecked(self.engine.settings.do_not_disturb)
        self.dnd_action.blockSignals(False)
        self.quit_action.setText(self.tr("Quit"))
