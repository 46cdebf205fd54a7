"""Proxies: the servers accounts can go out through; add, test, delete, and assign to accounts.

Passwords are handed to the engine, which stores them encrypted; the dialog never shows one
again (the table only says whether a proxy has one).
"""
from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.engine.accounts import PROXY_PROTOCOLS, AccountRow, ProxyRow
from app.engine.engine import Engine
from app.ui.dialogs.base import EngineDialog, record_table, set_form_labels

COLUMNS = ("name", "server", "protocol", "username", "test")


class ProxiesDialog(EngineDialog):
    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(engine, parent)
        self.proxies: list[ProxyRow] = []
        self.accounts: list[AccountRow] = []
        self.testing: set[int] = set()
        self._setup_ui()
        self.retranslate()
        self.events.accounts_changed.connect(lambda _e: self.reload())  # proxies announce this too
        self.reload()

    def _setup_ui(self) -> None:
        self.resize(760, 520)
        self.table = record_table(len(COLUMNS), COLUMNS.index("test"))
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.test_button = QPushButton()
        self.test_button.clicked.connect(self._test)
        self.delete_button = QPushButton()
        self.delete_button.setProperty("role", "danger")
        self.delete_button.clicked.connect(self._confirm_delete)
        table_buttons = QHBoxLayout()
        table_buttons.addWidget(self.test_button)
        table_buttons.addStretch(1)
        table_buttons.addWidget(self.delete_button)

        # Adding a proxy.
        self.name_edit = QLineEdit()
        self.server_edit = QLineEdit()
        self.protocol_combo = QComboBox()
        for protocol in PROXY_PROTOCOLS:
            self.protocol_combo.addItem(protocol, protocol)
        self.username_edit = QLineEdit()
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.add_button = QPushButton()
        self.add_button.setProperty("role", "primary")
        self.add_button.clicked.connect(self._add)
        self.add_group = QGroupBox()
        add_form = QFormLayout(self.add_group)
        for widget in (self.name_edit, self.server_edit, self.protocol_combo, self.username_edit,
                       self.password_edit):
            add_form.addRow(QLabel(), widget)
        add_form.addRow(QLabel(), self.add_button)

        # Assigning: which proxy an account goes out through.
        self.account_combo = QComboBox()
        self.account_combo.currentIndexChanged.connect(self._show_account_proxy)
        self.assign_combo = QComboBox()
        self.assign_button = QPushButton()
        self.assign_button.clicked.connect(self._assign)
        self.assign_group = QGroupBox()
        assign_form = QFormLayout(self.assign_group)
        assign_form.addRow(QLabel(), self.account_combo)
        assign_form.addRow(QLabel(), self.assign_combo)
        assign_form.addRow(QLabel(), self.assign_button)

        self.close_button = QPushButton()
        self.close_button.clicked.connect(self.accept)
        groups = QHBoxLayout()
        groups.addWidget(self.add_group, 1)
        groups.addWidget(self.assign_group, 1)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(table_buttons)
        layout.addLayout(groups)
        layout.addWidget(self.error_label)
        layout.addLayout(bottom)

    # ---- Data ---------------------------------------------------------------------------
    def reload(self) -> None:
        self.call(self.engine.accounts.list_proxies(), self._show_proxies)
        self.call(self.engine.accounts.list(), self._show_accounts)

    def _show_proxies(self, proxies: list[ProxyRow]) -> None:
        selected = self.selected()
        self.proxies = proxies
        self.table.setRowCount(len(proxies))
        for row, proxy in enumerate(proxies):
            self._fill_row(row, proxy)
            if selected is not None and proxy.id == selected.id:
                self.table.selectRow(row)
        self.assign_combo.clear()
        self.assign_combo.addItem(self.tr("No proxy (direct)"), None)
        for proxy in proxies:
            self.assign_combo.addItem(f"{proxy.name} ({proxy.server})", proxy.id)
        self._show_account_proxy()
        self._update_buttons()

    def _show_accounts(self, accounts: list[AccountRow]) -> None:
        current = self.account_combo.currentData()
        self.accounts = accounts
        self.account_combo.blockSignals(True)
        self.account_combo.clear()
        for account in accounts:
            self.account_combo.addItem(account.display_name, account.id)
        self.account_combo.setCurrentIndex(max(self.account_combo.findData(current), 0))
        self.account_combo.blockSignals(False)
        self._show_account_proxy()
        self._update_buttons()

    def _fill_row(self, row: int, proxy: ProxyRow) -> None:
        if proxy.id in self.testing:
            test = self.tr("Testing…")
        elif proxy.last_test_ok is None:
            test = self.tr("Not tested")
        elif proxy.last_test_ok:
            test = self.tr("Reachable ({ms} ms)").format(ms=proxy.last_test_ms)
        else:
            test = self.tr("Unreachable: {error}").format(error=proxy.last_test_error or "")
        cells = {
            "name": proxy.name,
            "server": proxy.server,
            "protocol": proxy.protocol,
            "username": (proxy.username or "") + (" 🔒" if proxy.has_password else ""),
            "test": test,
        }
        for column, key in enumerate(COLUMNS):
            self.table.setItem(row, column, QTableWidgetItem(cells[key]))

    def selected(self) -> ProxyRow | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.proxies):
            return None
        return self.proxies[rows[0].row()]

    def _show_account_proxy(self) -> None:
        account = next((a for a in self.accounts if a.id == self.account_combo.currentData()), None)
        if account is not None:
            self.assign_combo.setCurrentIndex(max(self.assign_combo.findData(account.proxy_id), 0))

    # ---- Actions ------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        proxy = self.selected()
        self.test_button.setEnabled(proxy is not None and proxy.id not in self.testing)
        self.delete_button.setEnabled(proxy is not None)
        self.assign_button.setEnabled(bool(self.accounts))

    def _add(self) -> None:
        name, server = self.name_edit.text().strip(), self.server_edit.text().strip()
        if not name or not server:
            self.show_error(self.tr("A proxy needs a name and a server (host:port)."))
            return
        self.show_error(None)
        self.call(
            self.engine.accounts.add_proxy(
                name, server, protocol=self.protocol_combo.currentData(),
                username=self.username_edit.text().strip() or None,
                password=self.password_edit.text() or None,
            ),
            lambda _id: self._clear_form(),
        )

    def _clear_form(self) -> None:
        for edit in (self.name_edit, self.server_edit, self.username_edit, self.password_edit):
            edit.clear()
        self.reload()

    def _test(self) -> None:
        proxy = self.selected()
        if proxy is None:
            return
        self.testing.add(proxy.id)
        self._show_proxies(self.proxies)

        def finished(_result: object = None) -> None:
            self.testing.discard(proxy.id)
            self.reload()

        self.call(self.engine.accounts.test_proxy(proxy.id), finished,
                  on_error=lambda exc: (finished(), self.show_error(exc)))

    def _confirm_delete(self) -> None:
        proxy = self.selected()
        if proxy is not None:
            self.confirm(
                self.tr("Delete proxy"),
                self.tr("Delete the proxy “{name}”? Accounts using it will connect directly.").format(name=proxy.name),
                self.tr("Delete"),
                lambda: self.call(self.engine.accounts.delete_proxy(proxy.id)),
            )

    def _assign(self) -> None:
        account_id = self.account_combo.currentData()
        if account_id is not None:
            self.show_error(None)
            self.call(self.engine.accounts.update(account_id, proxy_id=self.assign_combo.currentData()))

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Proxies"))
        self.table.setHorizontalHeaderLabels([
            self.tr("Name"), self.tr("Server"), self.tr("Protocol"), self.tr("Username"), self.tr("Last test"),
        ])
        self.test_button.setText(self.tr("Test"))
        self.delete_button.setText(self.tr("Delete…"))
        self.add_group.setTitle(self.tr("Add a proxy"))
        self.assign_group.setTitle(self.tr("Use a proxy for an account"))
        set_form_labels(self.add_group.layout(), self.tr("Name"), self.tr("Server"), self.tr("Protocol"),
                        self.tr("Username"), self.tr("Password"))
        self.server_edit.setPlaceholderText(self.tr("host:port"))
        self.username_edit.setPlaceholderText(self.tr("optional"))
        self.password_edit.setPlaceholderText(self.tr("optional, stored encrypted"))
        self.add_button.setText(self.tr("Add"))
        set_form_labels(self.assign_group.layout(), self.tr("Account"), self.tr("Proxy"))
        self.assign_button.setText(self.tr("Apply"))
        if self.assign_combo.count():
            self.assign_combo.setItemText(0, self.tr("No proxy (direct)"))
        self.close_button.setText(self.tr("Close"))
        for row, proxy in enumerate(self.proxies):
            self._fill_row(row, proxy)
