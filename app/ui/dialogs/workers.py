"""Workers: what the local browser pool is doing, for an operator wondering why an account is
quiet or the machine is slow: browser processes and their memory, open pages against the
limit, and each account's monitor state with its last error. Below, the remote workers
(`hiscrm worker` on other machines, attached to this console's server): their host, state,
accounts, memory and last heartbeat, so an account that waits for a worker that went away
shows where it waits.
"""
from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QTableWidgetItem, QVBoxLayout, QWidget

from app.engine.accounts import AccountRow
from app.engine.engine import Engine
from app.engine.pool.status import PoolStatus
from app.engine.workers import WorkerInfo
from app.ui.dialogs import labels
from app.ui.dialogs.base import EngineDialog, record_table, set_form_labels
from app.ui.plain_text import plain_tooltip
from app.ui.reasons import monitor_problem

REFRESH_MS = 2000  # memory figures move slowly; events refresh state changes at once
COLUMNS = ("account", "state", "failures", "restarts", "next", "error")
REMOTE_COLUMNS = ("worker", "host", "state", "accounts", "memory", "heartbeat")
STATE_ORDER = ("active", "hibernating", "backoff", "stopped", "crashed")


class WorkersDialog(EngineDialog):
    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(engine, parent)
        self.names: dict[str, str] = {}
        self.status: PoolStatus | None = None
        self.remote: list[WorkerInfo] = []
        self._setup_ui()
        self.retranslate()
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.events.pool_status_changed.connect(lambda _e: self.refresh())
        self.events.account_status_changed.connect(lambda _e: self.refresh())
        self.events.accounts_changed.connect(lambda _e: self._load_names())
        self._load_names()
        self.refresh()

    def _setup_ui(self) -> None:
        self.resize(760, 600)
        self.browser = QLabel()
        self.processes = QLabel()
        self.memory = QLabel()
        self.pages = QLabel()
        self.states = QLabel()
        self.summary = QFormLayout()
        for value in (self.browser, self.processes, self.memory, self.pages, self.states):
            value.setWordWrap(True)
            self.summary.addRow(QLabel(), value)
        self.table = record_table(len(COLUMNS), COLUMNS.index("error"))
        self.restart_button = QPushButton()
        self.restart_button.clicked.connect(self._restart)
        self.table.itemSelectionChanged.connect(
            lambda: self.restart_button.setEnabled(self._selected_account() is not None))
        self.restart_button.setEnabled(False)
        self.remote_title = QLabel()
        self.remote_table = record_table(len(REMOTE_COLUMNS), REMOTE_COLUMNS.index("accounts"))
        self.remote_empty = QLabel()
        self.remote_empty.setWordWrap(True)
        self.close_button = QPushButton()
        self.close_button.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(self.restart_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.remote_title)
        layout.addWidget(self.remote_empty)
        layout.addWidget(self.remote_table, 1)
        layout.addWidget(self.error_label)
        layout.addLayout(buttons)

    def _load_names(self) -> None:
        def show(accounts: list[AccountRow]) -> None:
            self.names = {a.id: a.display_name for a in accounts}
            self.refresh()

        self.call(self.engine.accounts.list(), show)

    def refresh(self) -> None:
        self.status = self.engine.pool_status()
        self.remote = [w for w in self.engine.workers() if w.remote]
        self._show()
        self._show_remote()

    def _show_remote(self) -> None:
        self.remote_empty.setVisible(not self.remote)
        self.remote_table.setVisible(bool(self.remote))
        self.remote_table.setRowCount(len(self.remote))
        for row, worker in enumerate(self.remote):
            names = [self._held(a, worker.account_states.get(a)) for a in worker.accounts]
            memory = "—" if worker.memory_mb is None else self.tr("{mb:.0f} MB").format(mb=worker.memory_mb)
            capacity = "" if worker.max_accounts is None else self.tr(" (at most {max})").format(
                max=worker.max_accounts)
            cells = (
                worker.id,
                worker.host or "—",
                labels.worker_state(worker.state),
                (", ".join(names) or "—") + capacity,
                memory,
                labels.local_time(worker.last_heartbeat),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == REMOTE_COLUMNS.index("accounts") and names:
                    item.setToolTip(plain_tooltip("\n".join(names)))
                self.remote_table.setItem(row, column, item)

    def _show(self) -> None:
        status = self.status
        if status is None:
            return
        if not status.enabled:
            browser = self.tr("Browsers are switched off for this run")
        elif status.browser_running:
            browser = self.tr("Running ({version}), started {count} time(s)").format(
                version=status.browser_version or "Chromium", count=status.browser_launches)
        else:
            browser = self.tr("Not running (starts when an account needs it)")
        self.browser.setText(browser)
        memory = status.memory
        self.processes.setText(self.tr("{count} (browser pid {pids})").format(
            count=memory.processes, pids=", ".join(map(str, memory.browser_pids)) or "—"))
        if memory.rss_mb is None:
            self.memory.setText("—")
        elif memory.pss_mb is not None:
            self.memory.setText(self.tr("{pss:.0f} MB (PSS), {rss:.0f} MB resident").format(
                pss=memory.pss_mb, rss=memory.rss_mb))
        else:
            self.memory.setText(self.tr("{rss:.0f} MB resident").format(rss=memory.rss_mb))
        self.pages.setText(self.tr("{open} of at most {max}").format(
            open=status.open_pages, max=status.max_active_pages))
        counts = Counter(a.state for a in status.accounts)
        self.states.setText(", ".join(
            f"{labels.monitor_state(state)} {counts[state]}" for state in STATE_ORDER if counts[state]
        ) or "—")
        selected = self._selected_account()
        self.table.setRowCount(len(status.accounts))
        for row, account in enumerate(status.accounts):
            next_poll = "—" if account.next_poll_in_s is None else self.tr("in {s:.0f} s").format(
                s=account.next_poll_in_s)
            cells = (
                self.names.get(account.account_id, account.account_id),
                labels.monitor_state(account.state),
                str(account.failures),
                str(account.restarts),
                next_poll,
                monitor_problem(account.last_error_code) if account.last_error else "",
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == COLUMNS.index("error") and text:
                    item.setToolTip(plain_tooltip(account.last_error))  # the engine's own words
                self.table.setItem(row, column, item)
            if account.account_id == selected:
                self.table.selectRow(row)

    def _held(self, account_id: str, state: str | None) -> str:
        """An account a remote worker holds, with its monitor state there when it said."""
        name = self.names.get(account_id, account_id)
        return name if state is None else f"{name} ({labels.monitor_state(state)})"

    def _selected_account(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or self.status is None or rows[0].row() >= len(self.status.accounts):
            return None
        return self.status.accounts[rows[0].row()].account_id

    def _restart(self) -> None:
        account_id = self._selected_account()
        if account_id is not None:
            self.call(self.engine.restart_account(account_id), lambda _r: self.refresh())

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Workers"))
        set_form_labels(self.summary, self.tr("Browser"), self.tr("Browser processes"), self.tr("Memory"),
                        self.tr("Open pages"), self.tr("Accounts"))
        self.table.setHorizontalHeaderLabels([
            self.tr("Account"), self.tr("State"), self.tr("Failures"), self.tr("Restarts"),
            self.tr("Next poll"), self.tr("Last error"),
        ])
        self.remote_title.setText(self.tr("Remote workers"))
        self.remote_empty.setText(self.tr("No remote worker has connected to this console's server."))
        self.remote_table.setHorizontalHeaderLabels([
            self.tr("Worker"), self.tr("Host"), self.tr("State"), self.tr("Accounts"), self.tr("Memory"),
            self.tr("Last heartbeat"),
        ])
        self.restart_button.setText(self.tr("Restart account"))
        self.close_button.setText(self.tr("Close"))
        self._show()
        self._show_remote()

    def done(self, result: int) -> None:
        self._timer.stop()
        super().done(result)
