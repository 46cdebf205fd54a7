"""The console's main window: channels | topics | chat, with menus, toolbar and status bar.

The window is shown before the engine exists (the first paint must not wait for the
database or the browsers): until `attach_engine` it shows a "starting" message. Then:
- the channel list (accounts, busiest first, with login state and unread badges);
- the selected channel's topics; opening a channel also wakes its browser context;
- the chat pane of the selected topic.
Keyboard: Alt+Up / Alt+Down move between topics, Ctrl+K searches every message.
Dialogs (accounts, login, workers, proxies, settings) come from app.ui.dialogs, imported
when first opened, and are shown with open()/show(), never exec().
"""
from __future__ import annotations

import json
import logging
import sys
from dataclasses import astuple
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEvent, QLocale, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QToolBar,
    QWidget,
)

from app.engine.events import AccountStatusChanged
from app.engine.platform import SELF_CHECK
from app.engine.im.types import Channel, SearchHit, Topic, TopicRef

from .bridge import EngineBridge, spawn
from .components.activity_list import ActivityList
from .components.chat_pane import ChatPane
from .components.drafts import Drafts
from .components.search import SearchDialog
from .components.topics_pane import TopicsPane
from .components.undo_banner import UndoBanner
from .look import follow_settings
from .models.channels import ChannelsModel
from .models.keyed import ObjectRole
from .reasons import account_problem
from .views.avatar_images import AvatarImages
from .views.channel_delegate import ChannelDelegate
from .views.painting import badge_text

log = logging.getLogger(__name__)

STATE_FILE = "window.ini"


class MainWindow(QMainWindow):
    #: The operator asked to quit (menu, Ctrl+Q, closing the window).
    quit_requested = Signal()

    def __init__(self, config_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MainWindow")
        self.engine = None
        self.bridge: EngineBridge | None = None
        self.channels_model: ChannelsModel | None = None
        self.search_dialog: SearchDialog | None = None
        self.dialogs: dict[str, QWidget] = {}  # open dialogs by name, kept referenced
        self.tray = None
        self._state = QSettings(str(config_dir / STATE_FILE), QSettings.Format.IniFormat)
        self.resize(1200, 760)

        self.starting_label = QLabel(self)
        self.starting_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(self.starting_label)
        self.engine_state = QLabel(self)
        self.unread_label = QLabel(self)
        self.undo_banner = UndoBanner(self)
        self.statusBar().addWidget(self.engine_state, 1)
        self.statusBar().addPermanentWidget(self.undo_banner)
        self.statusBar().addPermanentWidget(self.unread_label)
        self._create_actions()
        self._create_menus()
        self._engine_state: Callable[[], str] = lambda: self.tr("Starting…")
        self.retranslate()
        self._restore_state()

    # ---- Engine ---------------------------------------------------------------------------
    def attach_engine(self, engine) -> None:
        """Build the panes on `engine` (its database is ready); events flow from now on."""
        self.engine = engine
        self.bridge = EngineBridge(engine.bus, self)
        self._unfollow_settings = follow_settings(engine.bus)
        self.channels_model = ChannelsModel(engine.views, self.bridge, self)
        self.channel_list = ActivityList(self)
        self.channel_list.setObjectName("channels")
        self.channel_list.setModel(self.channels_model)
        self.channel_list.setItemDelegate(ChannelDelegate(AvatarImages(engine.paths.data_dir), self.channel_list))
        self.channel_list.setUniformItemSizes(True)
        self.channel_list.setMouseTracking(True)
        self.channel_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.channel_list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.channel_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.channel_list.customContextMenuRequested.connect(self._channel_menu)
        self.channel_list.selectionModel().currentChanged.connect(self._on_channel_changed)
        self.topics_pane = TopicsPane(engine, self.bridge, self)
        self.topics_pane.topic_selected.connect(self._on_topic_selected)
        self.chat = ChatPane(engine, self.bridge, self, drafts=Drafts(self._state))
        self.topics_pane.topic_updated.connect(self.chat.update_topic)
        self.chat.login_requested.connect(self.log_in)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("panes")
        self.splitter.addWidget(self.channel_list)
        self.splitter.addWidget(self.topics_pane)
        self.splitter.addWidget(self.chat)
        self.splitter.setStretchFactor(2, 1)
        self.splitter.setSizes([260, 300, 640])
        splitter_state = self._state.value("splitter")
        if splitter_state is not None:
            self.splitter.restoreState(splitter_state)
        self.setCentralWidget(self.splitter)

        for signal in (self.channels_model.modelReset, self.channels_model.dataChanged,
                       self.channels_model.rowsInserted, self.channels_model.rowsRemoved):
            signal.connect(self._show_unread_total)
        self.channels_model.rowsInserted.connect(self._select_first_channel)
        self.bridge.account_status_changed.connect(self._on_account_status)
        self.channels_model.reload()
        for action in self.engine_actions:
            action.setEnabled(True)
        self._create_tray()

    def set_engine_state(self, text: str | Callable[[], str]) -> None:
        """Show the engine's state: a function giving the words in the current language (so
        they follow a language switch), or a fixed text (an error from the engine)."""
        self._engine_state = text if callable(text) else (lambda: text)
        self._show_engine_state()

    def _show_engine_state(self) -> None:
        text = self._engine_state()
        self.engine_state.setText(text)
        if self.engine is None:
            self.starting_label.setText(text)

    def detach_engine(self) -> None:
        """Stop listening to the engine (before it stops)."""
        if self.bridge is not None:
            self.bridge.close()
            self._unfollow_settings()
        if self.tray is not None:
            self.tray.close()

    # ---- Navigation -----------------------------------------------------------------------
    def open_channel(self, account_id: str) -> None:
        if self.channels_model is None:
            return
        index = self.channels_model.index_of(account_id)
        if index.isValid():
            self.channel_list.setCurrentIndex(index)

    def move_topic(self, step: int) -> None:
        if self.engine is not None:
            self.topics_pane.move(step)

    def open_search(self) -> None:
        if self.engine is None:
            return
        if self.search_dialog is None:
            self.search_dialog = SearchDialog(self.engine.views, self)
            self.search_dialog.hit_chosen.connect(self.jump_to)
        self.search_dialog.open()

    def jump_to(self, hit: SearchHit) -> None:
        """Show the hit's channel and topic, scrolled to the message."""
        ref = hit.message.topic

        def show(topic: Topic | None) -> None:
            if topic is None:
                return
            self.topics_pane.show_channel(ref.account_id, select=ref)
            self._select_channel_quietly(ref.account_id)
            self.topics_pane.pin(topic)
            self.chat.open_topic(topic, around=hit.message)

        spawn(self.engine.views.topic(ref), on_done=show)

    def mark_all_read(self) -> None:
        """Ask first (how many messages, in which accounts), then mark exactly those; Undo
        stays offered a while in the status bar, since one click here clears every account."""
        if self.engine is not None:
            spawn(self.engine.views.unread_snapshot(), on_done=self._confirm_mark_all_read)

    def _confirm_mark_all_read(self, snapshot) -> None:
        channels, up_to = snapshot
        unread = [c for c in channels if c.unread_count]
        total = sum(c.unread_count for c in unread)
        if not total:
            self.statusBar().showMessage(self.tr("Nothing is unread."), 4000)
            return
        accounts = QLocale().createSeparatedList([f"{c.name} ({c.unread_count})" for c in unread])  # 、/and
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Mark all read"),
                          self.tr("Mark %n unread message(s) read?", "", total), parent=self)
        box.setObjectName("confirmMarkAllRead")
        box.setInformativeText(self.tr("In %n account(s): {0}", "", len(unread)).replace("{0}", accounts))
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.button(QMessageBox.StandardButton.Yes).setText(self.tr("Mark all read"))
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.accepted.connect(lambda: spawn(self.engine.views.mark_all_read_undoably(up_to),
                                           on_done=self._offer_undo))
        self.dialogs["mark_all_read"] = box
        box.finished.connect(lambda _result: self.dialogs.pop("mark_all_read", None))
        box.open()

    def _offer_undo(self, marked) -> None:
        if not marked.count:
            return
        self.undo_banner.offer(self.tr("%n message(s) marked read", "", marked.count),
                               lambda: spawn(self.engine.views.restore_unread(marked)))

    def mark_channel_read(self, account_id: str) -> None:
        spawn(self.engine.views.mark_channel_read(account_id))

    # ---- Dialogs (owned by app.ui.dialogs) ------------------------------------------------
    def log_in(self, account_id: str) -> QWidget | None:
        """The login dialog of an account; in a visible browser when the platform holds the
        account for a check (a slider, a face check) that only a person can pass there."""
        channel = self.channels_model.channel(account_id) if self.channels_model is not None else None
        verify = channel is not None and channel.login_status == "needs_verification"
        return self.open_dialog("login", account_id, visible=verify)

    def open_dialog(self, name: str, account_id: str | None = None, *,
                    new_account: bool = False, visible: bool = False) -> QWidget | None:
        """Open one of the admin dialogs by name; one of each at a time. (`new_account`: the
        login of an account just added, removed again if the operator gives up; `visible`:
        the login in a visible browser window.)"""
        if self.engine is None:
            return None
        existing = self.dialogs.get(name)
        if existing is not None and existing.isVisible():
            existing.raise_()
            existing.activateWindow()
            return existing
        dialog = self._build_dialog(name, account_id, new_account, visible)
        self.dialogs[name] = dialog
        dialog.finished.connect(lambda _result, n=name: self.dialogs.pop(n, None))
        dialog.open()
        return dialog

    def _build_dialog(self, name: str, account_id: str | None, new_account: bool = False,
                      visible: bool = False) -> QWidget:
        if name == "accounts":
            from .dialogs.accounts import AccountsDialog

            return AccountsDialog(self.engine, self)
        if name == "add_account":
            from .dialogs.accounts import AddAccountDialog

            dialog = AddAccountDialog(self.engine, self)
            dialog.created.connect(lambda new_id: self.open_dialog("login", new_id, new_account=True))
            return dialog
        if name == "login":
            from .dialogs.login import LoginDialog

            return LoginDialog(self.engine, account_id, self, new_account=new_account, visible=visible)
        if name == "workers":
            from .dialogs.workers import WorkersDialog

            return WorkersDialog(self.engine, self)
        if name == "proxies":
            from .dialogs.proxies import ProxiesDialog

            return ProxiesDialog(self.engine, self)
        if name == "settings":
            from .dialogs.settings import SettingsDialog

            return SettingsDialog(self.engine, self)
        raise ValueError(f"unknown dialog {name!r}")

    # ---- Actions and menus ----------------------------------------------------------------
    def _create_actions(self) -> None:
        def action(shortcut: QKeySequence | str | None, slot, *, needs_engine: bool = True) -> QAction:
            a = QAction(self)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
                a.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
            a.triggered.connect(slot)
            a.setEnabled(not needs_engine)
            self.addAction(a)  # shortcuts work without the menu bar too
            return a

        self.accounts_action = action(None, lambda: self.open_dialog("accounts"))
        self.add_account_action = action(None, lambda: self.open_dialog("add_account"))
        self.workers_action = action(None, lambda: self.open_dialog("workers"))
        self.proxies_action = action(None, lambda: self.open_dialog("proxies"))
        self.settings_action = action(QKeySequence.StandardKey.Preferences, lambda: self.open_dialog("settings"))
        self.mark_all_read_action = action(None, self.mark_all_read)
        self.search_action = action("Ctrl+K", self.open_search)
        self.previous_topic_action = action("Alt+Up", lambda: self.move_topic(-1))
        self.next_topic_action = action("Alt+Down", lambda: self.move_topic(1))
        self.quit_action = action("Ctrl+Q", self.quit_requested.emit, needs_engine=False)
        self.engine_actions = [
            self.accounts_action, self.add_account_action, self.workers_action, self.proxies_action,
            self.settings_action, self.mark_all_read_action, self.search_action,
            self.previous_topic_action, self.next_topic_action,
        ]

    def _create_menus(self) -> None:
        self.file_menu = self.menuBar().addMenu("")
        self.file_menu.addActions([self.settings_action])
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.quit_action)
        self.accounts_menu = self.menuBar().addMenu("")
        self.accounts_menu.addActions([self.accounts_action, self.add_account_action,
                                       self.proxies_action, self.workers_action])
        self.messages_menu = self.menuBar().addMenu("")
        self.messages_menu.addActions([self.search_action, self.mark_all_read_action])
        self.messages_menu.addSeparator()
        self.messages_menu.addActions([self.previous_topic_action, self.next_topic_action])
        self.toolbar = QToolBar(self)
        self.toolbar.setObjectName("main")
        self.toolbar.setMovable(False)
        self.toolbar.addActions([self.accounts_action, self.add_account_action, self.search_action,
                                 self.mark_all_read_action, self.workers_action, self.settings_action])
        self.addToolBar(self.toolbar)

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("HisCRM Console"))
        self.file_menu.setTitle(self.tr("&File"))
        self.accounts_menu.setTitle(self.tr("&Accounts"))
        self.messages_menu.setTitle(self.tr("&Messages"))
        self.toolbar.setWindowTitle(self.tr("Main toolbar"))
        self.accounts_action.setText(self.tr("Accounts…"))
        self.add_account_action.setText(self.tr("Add account…"))
        self.workers_action.setText(self.tr("Workers…"))
        self.proxies_action.setText(self.tr("Proxies…"))
        self.settings_action.setText(self.tr("Settings…"))
        self.mark_all_read_action.setText(self.tr("Mark all read"))
        self.search_action.setText(self.tr("Search…"))
        self.previous_topic_action.setText(self.tr("Previous topic"))
        self.next_topic_action.setText(self.tr("Next topic"))
        self.quit_action.setText(self.tr("Quit"))
        self._show_engine_state()
        self._show_unread_total()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def _channel_menu(self, pos) -> None:
        index = self.channel_list.indexAt(pos)
        channel = index.data(ObjectRole) if index.isValid() else None
        if channel is not None:
            self.channel_list.popup_menu(self.build_channel_menu(channel), pos)

    def build_channel_menu(self, channel: Channel) -> QMenu:
        """An account's context menu; one the platform holds for a check offers to finish it
        in a visible browser."""
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if channel.login_status == "needs_verification":
            verify = menu.addAction(self.tr("Finish the verification in a browser…"),
                                    lambda: self.open_dialog("login", channel.account_id, visible=True))
            verify.setObjectName("finishVerification")
        menu.addAction(self.tr("Log in…"), lambda: self.open_dialog("login", channel.account_id))
        menu.addAction(self.tr("Mark channel read"), lambda: self.mark_channel_read(channel.account_id))
        if SELF_CHECK in self._capabilities(channel.platform):
            menu.addAction(self.tr("Check the platform's pages"), lambda: self.self_check(channel))
        return menu

    def _capabilities(self, platform: str) -> frozenset[str]:
        try:
            return self.engine.platforms.get(platform).capabilities
        except KeyError:
            return frozenset()

    def self_check(self, channel) -> None:
        """Check the platform's pages with the account's page and tell the operator what no
        longer matches (a real site changes its pages; the report is for whoever maintains the
        adapter)."""
        self.statusBar().showMessage(self.tr("Checking the pages of {0}…").replace("{0}", channel.name))
        spawn(self.engine.self_check(channel.account_id),
              on_done=lambda result: self._show_self_check(channel, result),
              on_error=lambda exc: self._show_self_check(channel, None, exc))

    def _show_self_check(self, channel, result, error: BaseException | None = None) -> None:
        self.statusBar().clearMessage()
        if result is None:
            icon = QMessageBox.Icon.Warning
            if getattr(error, "code", None) == "session_expired":
                text = self.tr("The check needs the account logged in: log in again first.")
            else:
                text = self.tr("The check could not run now; try again in a minute.")
        elif result.ok:
            text, icon = self.tr("Every page matched what HisCRM expects."), QMessageBox.Icon.Information
        else:
            text, icon = self.tr("Some pages no longer match what HisCRM expects."), QMessageBox.Icon.Warning
        box = QMessageBox(icon, self.tr("Pages of {0}").replace("{0}", channel.name), text, parent=self)
        box.setObjectName("selfCheck")
        box.setTextFormat(Qt.TextFormat.PlainText)
        details = list(result.lines) if result is not None else [str(error)]
        if result is not None and result.report_file is not None:
            details.append(self.tr("Report saved to {0}").replace("{0}", str(result.report_file)))
        box.setInformativeText("\n".join(details))  # the adapter's own words (English), like the log
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialogs["self_check"] = box
        box.finished.connect(lambda _result: self.dialogs.pop("self_check", None))
        box.open()

    # ---- Reactions ------------------------------------------------------------------------
    def _on_channel_changed(self, current, _previous) -> None:
        channel = current.data(ObjectRole) if current.isValid() else None
        if channel is None:
            return
        if self.topics_pane.account_id != channel.account_id:
            self.topics_pane.show_channel(channel.account_id)
            if self.chat.topic is not None and self.chat.topic.ref.account_id != channel.account_id:
                self.chat.close_topic()
        # The operator is looking at this account: bring its browser context up now.
        spawn(self.engine.wake_account(channel.account_id),
              on_error=lambda exc: log.info("wake %s: %s", channel.account_id, exc))

    def _select_channel_quietly(self, account_id: str) -> None:
        """Select a channel in the list without re-listing its topics (already done)."""
        index = self.channels_model.index_of(account_id)
        if index.isValid() and self.channel_list.currentIndex() != index:
            self.channel_list.setCurrentIndex(index)

    def _on_topic_selected(self, topic: Topic) -> None:
        self.chat.open_topic(topic)

    def _select_first_channel(self, *_args) -> None:
        """Show the channel (and the topic) open when the console last closed, else the first."""
        if not self.channel_list.currentIndex().isValid() and self.channels_model.rowCount():
            last = self._state.value("channel")
            index = self.channels_model.index_of(last) if last else None
            if index is None or not index.isValid():
                index = self.channels_model.index(0, 0)
            topic = _ref_from_state(self._state.value("topic"))
            if topic is not None and topic.account_id == index.data(ObjectRole).account_id:
                self.topics_pane.show_channel(topic.account_id, select=topic)
            self.channel_list.setCurrentIndex(index)

    def _on_account_status(self, event: AccountStatusChanged) -> None:
        problem = account_problem(event.login_status, event.error) if event.error else None
        if problem:
            log.info("account %s: %s", event.account_id, event.error)
            channel = self.channels_model.channel(event.account_id)
            name = channel.name if channel is not None else event.account_id
            self.statusBar().showMessage(
                self.tr("{account}: {problem}").replace("{account}", name).replace("{problem}", problem), 8000)

    def _show_unread_total(self, *_args) -> None:
        total = self.channels_model.unread_total() if self.channels_model is not None else 0
        self.unread_label.setText(self.tr("Unread: {0}").replace("{0}", str(total)))
        # The count where the operator looks when the window is behind others (the taskbar
        # shows the title) and where the desktop keeps a badge (macOS dock, Windows taskbar).
        title = self.tr("HisCRM Console")
        self.setWindowTitle(f"({badge_text(total)}) {title}" if total else title)
        app = QGuiApplication.instance()
        if app.desktopFileName() or sys.platform in ("darwin", "win32"):  # Linux needs the .desktop
            app.setBadgeNumber(total)

    def _create_tray(self) -> None:
        try:
            from .tray import Tray
        except ImportError as exc:  # the tray is optional: the window works without it
            log.warning("no tray icon: %s", exc)
            return
        self.tray = Tray(self.engine, self)
        self.tray.quit_requested.connect(self.quit_requested.emit)
        self.tray.verification_requested.connect(self.log_in)

    # ---- Window state ---------------------------------------------------------------------
    def _restore_state(self) -> None:
        geometry = self._state.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        window_state = self._state.value("state")
        if window_state is not None:
            self.restoreState(window_state)

    def save_state(self) -> None:
        self._state.setValue("geometry", self.saveGeometry())
        self._state.setValue("state", self.saveState())
        if self.engine is not None:
            self._state.setValue("splitter", self.splitter.saveState())
            current = self.channel_list.currentIndex()
            if current.isValid():
                self._state.setValue("channel", current.data(ObjectRole).account_id)
            topic = self.chat.topic
            self._state.setValue("topic", json.dumps(astuple(topic.ref)) if topic is not None else "")
        self._state.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.save_state()
        event.accept()
        QTimer.singleShot(0, self.quit_requested.emit)


def _ref_from_state(value: object) -> TopicRef | None:
    """The topic saved by `save_state` (None when there is none or it is unreadable)."""
    try:
        account_id, kind, platform_id = json.loads(value) if value else (None, None, None)
    except (TypeError, ValueError):
        return None
    if not isinstance(account_id, str) or kind not in ("content", "conversation") or not isinstance(platform_id, str):
        return None
    return TopicRef(account_id, kind, platform_id)
