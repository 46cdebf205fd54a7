"""Accounts: the list of served accounts with their login and monitoring state, and the form
to add one (which goes straight on to its login).

The table follows AccountsChanged/AccountStatusChanged, so a login finishing, a session
expiring or the pool backing off shows up while the dialog is open. Each identity shows its
avatar: the file the engine keeps from the last accepted login (app/engine/avatars.py), read
as the channel list reads it (AvatarImages); nothing is fetched from here.
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

import resources
from app.engine.accounts import AccountRow, ProxyRow, platform_identity
from app.engine.engine import Engine
from app.ui.dialogs import labels
from app.ui.dialogs.base import EngineDialog, record_table, set_form_labels
from app.ui.dialogs.login import LoginDialog
from app.ui.plain_text import plain_tooltip
from app.ui.reasons import account_problem
from app.ui.theme import platform_icon
from app.ui.views.avatar_images import AvatarImages
from app.ui.views.painting import login_state_label

RELOAD_DELAY_MS = 100  # gathers the bursts of events one action causes into one reload
COLUMNS = ("name", "platform", "identity", "login", "monitoring", "error", "crawl", "id")  # id: for `hiscrm db`
AVATAR_SIZE = QSize(24, 24)


class AccountsDialog(EngineDialog):
    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(engine, parent)
        self.avatars = AvatarImages(engine.paths.data_dir)
        self.accounts: list[AccountRow] = []
        self.monitor_states: dict[str, str] = {}  # account id -> the pool's monitor state
        self.login_dialog: LoginDialog | None = None
        self._setup_ui()
        self.retranslate()
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self.reload)
        for signal in (self.events.accounts_changed, self.events.account_status_changed,
                       self.events.pool_status_changed):
            signal.connect(lambda _e: self._reload_timer.start())
        self.reload()

    def _setup_ui(self) -> None:
        self.resize(980, 420)  # every column, the identity with its avatar and id included
        self.table = record_table(len(COLUMNS), COLUMNS.index("error"))
        self.table.setIconSize(AVATAR_SIZE)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda _i: self._relogin())

        self.add_button = QPushButton()
        self.add_button.setProperty("role", "primary")
        self.add_button.clicked.connect(self._add)
        self.login_button = QPushButton()
        self.login_button.clicked.connect(self._relogin)
        self.logout_button = QPushButton()
        self.logout_button.clicked.connect(self._logout)
        self.monitor_button = QPushButton()
        self.monitor_button.clicked.connect(self._toggle_monitoring)
        self.delete_button = QPushButton()
        self.delete_button.setProperty("role", "danger")
        self.delete_button.clicked.connect(self._confirm_delete)
        self.close_button = QPushButton()
        self.close_button.clicked.connect(self.accept)

        buttons = QHBoxLayout()
        for button in (self.add_button, self.login_button, self.logout_button, self.monitor_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.error_label)
        layout.addLayout(buttons)

    # ---- Data ---------------------------------------------------------------------------
    def reload(self) -> None:
        self.call(self.engine.accounts.list(), self._show_accounts)

    def _show_accounts(self, accounts: list[AccountRow]) -> None:
        selected = self.selected()
        self.accounts = accounts
        self.monitor_states = {a.account_id: a.state for a in self.engine.pool_status().accounts}
        self.table.setRowCount(len(accounts))
        for row, account in enumerate(accounts):
            self._fill_row(row, account)
            if selected is not None and account.id == selected.id:
                self.table.selectRow(row)
        self._update_buttons()

    def _fill_row(self, row: int, account: AccountRow) -> None:
        try:
            platform_label = self.engine.platforms.get(account.platform).label
        except KeyError:
            platform_label = account.platform
        if not account.monitor_enabled:
            monitoring = self.tr("Off")
        elif account.id in self.monitor_states:
            monitoring = labels.monitor_state(self.monitor_states[account.id])
        else:
            monitoring = self.tr("On")
        cells = {
            "name": account.display_name,
            "platform": platform_label,
            # who logged in there: the operator's name for the account says nothing about it
            "identity": platform_identity(account.platform_username, account.platform_user_id)
            if account.platform_user_id else "",
            "login": login_state_label(account.login_status),
            "monitoring": monitoring,
            "error": (account_problem(account.login_status, account.last_error) or "") if account.last_error else "",
            "crawl": labels.local_time(account.last_crawl_at),
            "id": account.id,
        }
        for column, key in enumerate(COLUMNS):
            item = QTableWidgetItem(cells[key])
            if key == "platform":
                item.setIcon(platform_icon(account.platform))
            if key == "identity" and account.platform_user_id:
                item.setIcon(avatar_icon(self.avatars.get(account.id)))
            if key == "error" and account.last_error:
                item.setToolTip(plain_tooltip(account.last_error))
            item.setData(Qt.ItemDataRole.UserRole, account.id)
            self.table.setItem(row, column, item)

    def selected(self) -> AccountRow | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.accounts):
            return None
        return self.accounts[rows[0].row()]

    def select_account(self, account_id: str) -> None:
        for row, account in enumerate(self.accounts):
            if account.id == account_id:
                self.table.selectRow(row)

    # ---- Actions ------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        account = self.selected()
        for button in (self.login_button, self.logout_button, self.monitor_button, self.delete_button):
            button.setEnabled(account is not None)
        if account is not None:
            self.logout_button.setEnabled(account.login_status == "logged_in")
        self._retranslate_monitor_button(account)

    def _add(self) -> None:
        form = AddAccountDialog(self.engine, self)
        form.created.connect(self._on_created)
        self.add_form = form
        form.open()

    def _on_created(self, account_id: str) -> None:
        self.reload()
        QTimer.singleShot(RELOAD_DELAY_MS * 2, lambda: self.select_account(account_id))
        self.open_login(account_id, new_account=True)

    def open_login(self, account_id: str, *, new_account: bool = False) -> LoginDialog:
        self.login_dialog = LoginDialog(self.engine, account_id, self, new_account=new_account)
        self.login_dialog.open()
        return self.login_dialog

    def _relogin(self) -> None:
        account = self.selected()
        if account is not None:
            self.open_login(account.id)

    def _logout(self) -> None:
        account = self.selected()
        if account is not None:
            self.call(self.engine.accounts.logout(account.id))

    def _toggle_monitoring(self) -> None:
        account = self.selected()
        if account is not None:
            self.show_error(None)
            self.call(self.engine.accounts.set_monitoring(account.id, not account.monitor_enabled))

    def _confirm_delete(self) -> None:
        account = self.selected()
        if account is not None:
            self.confirm(
                self.tr("Delete account"),
                self.tr("Delete “{name}” and all its stored messages and replies? This cannot be undone.")
                .format(name=account.display_name),
                self.tr("Delete"),
                lambda: self.call(self.engine.accounts.delete(account.id)),
            )

    # ---- Text ---------------------------------------------------------------------------
    def _retranslate_monitor_button(self, account: AccountRow | None) -> None:
        enabled = account is not None and account.monitor_enabled
        self.monitor_button.setText(self.tr("Pause monitoring") if enabled else self.tr("Resume monitoring"))

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Accounts"))
        self.table.setHorizontalHeaderLabels([
            self.tr("Name"), self.tr("Platform"), self.tr("On the platform"), self.tr("Login"),
            self.tr("Monitoring"),
            self.tr("Last error"), self.tr("Last crawl"), self.tr("ID"),
        ])
        self.add_button.setText(self.tr("Add account…"))
        self.login_button.setText(self.tr("Log in again"))
        self.logout_button.setText(self.tr("Log out"))
        self.delete_button.setText(self.tr("Delete…"))
        self.close_button.setText(self.tr("Close"))
        self._retranslate_monitor_button(self.selected())
        for row, account in enumerate(self.accounts):
            self._fill_row(row, account)


def avatar_icon(image: QPixmap | None) -> QIcon:
    """The kept avatar, or the placeholder when there is none or it is not an image."""
    if image is None:
        image = QPixmap(str(resources.resource_path("icons", "avatar-placeholder.svg")))
    image = image.scaled(AVATAR_SIZE * 2, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    icon = QIcon(image)
    icon.addPixmap(image, QIcon.Mode.Selected)  # not washed out on a selected row
    return icon


class AddAccountDialog(EngineDialog):
    """Platform, name and (optionally) proxy of a new account; `created` carries its id."""

    created = Signal(str)

    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(engine, parent)
        self.platform_combo = QComboBox()
        for platform in engine.platforms.all():
            self.platform_combo.addItem(platform_icon(platform.name), platform.label, platform.name)
        self.name_edit = QLineEdit()
        self.name_edit.setMaxLength(100)
        self.proxy_combo = QComboBox()
        self.proxy_combo.addItem("", None)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.form = QFormLayout()
        self.form.addRow(QLabel(), self.platform_combo)
        self.form.addRow(QLabel(), self.name_edit)
        self.form.addRow(QLabel(), self.proxy_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(360)
        self.retranslate()
        self.call(engine.accounts.list_proxies(), self._show_proxies)

    def _show_proxies(self, proxies: list[ProxyRow]) -> None:
        for proxy in proxies:
            self.proxy_combo.addItem(f"{proxy.name} ({proxy.server})", proxy.id)

    def submit(self) -> None:
        name = self.name_edit.text().strip()
        if self.platform_combo.currentData() is None:
            self.show_error(self.tr("No platform is available."))
            return
        if not name:
            self.show_error(self.tr("Enter a name for the account."))
            self.name_edit.setFocus()
            return
        self.show_error(None)
        self.buttons.setEnabled(False)
        self.call(
            self.engine.accounts.create(self.platform_combo.currentData(), name,
                                        proxy_id=self.proxy_combo.currentData()),
            self._on_created,
            on_error=self._on_failed,
        )

    def _on_created(self, account_id: str) -> None:
        self.created.emit(account_id)
        self.accept()

    def _on_failed(self, exc: BaseException) -> None:
        self.buttons.setEnabled(True)
        self.show_error(exc)

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Add account"))
        set_form_labels(self.form, self.tr("Platform"), self.tr("Name"), self.tr("Proxy"))
        self.name_edit.setPlaceholderText(self.tr("How operators will see this account"))
        self.proxy_combo.setItemText(0, self.tr("No proxy (direct)"))
