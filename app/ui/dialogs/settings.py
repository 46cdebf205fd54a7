"""Settings: where data lives, the database, monitoring pace, language, theme, notifications,
and the embedded server (server_section.py).

Saving hands the edited values to the engine's settings service, which validates them (a bad
database URL or an impossible poll range is reported in the dialog, nothing is written),
saves the file and announces the change: the pool's page budget and poll intervals, the
tray's notifications and the window's language and theme follow at once. A new database URL
takes effect at the next start.
"""
from __future__ import annotations

from pydantic import ValidationError
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.engine.engine import Engine
from app.engine.settings import Settings
from app.ui.dialogs.base import EngineDialog, role_label, set_form_labels
from app.ui.dialogs.server_section import ServerSection

SUPPORTED_DATABASES = ("sqlite", "postgresql")


class DatabaseUrlError(ValueError):
    pass


def check_database_url(url: str) -> None:
    """Raise DatabaseUrlError unless `url` is empty (the default file) or a SQLite/PostgreSQL
    URL that names a database."""
    if not url:
        return
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUrlError(str(exc)) from exc
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_DATABASES:
        raise DatabaseUrlError(backend)
    if not parsed.database:
        raise DatabaseUrlError(url)


class SettingsDialog(EngineDialog):
    #: Settings: emitted after a successful save (the window re-reads what it shows).
    saved = Signal(object)

    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(engine, parent)
        self._setup_ui()
        self.retranslate()
        self._load(engine.settings)

    def _setup_ui(self) -> None:
        self.setMinimumWidth(980)
        self.data_dir = QLineEdit(str(self.engine.paths.data_dir))
        self.data_dir.setReadOnly(True)
        self.data_dir.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.database_url = QLineEdit()
        self.database_url.textChanged.connect(lambda _t: self._mark_url(valid=True))
        self.database_hint = role_label("hint")
        self.database_hint.setWordWrap(True)
        self.key_hint = role_label("hint")  # said only where there is no OS keyring
        self.key_hint.setWordWrap(True)
        self.key_hint.setVisible(self.engine.accounts.sessions_protected_by_file_permissions_only)
        self.storage = QGroupBox()
        storage_form = QFormLayout(self.storage)
        storage_form.addRow(QLabel(), self.data_dir)
        storage_form.addRow(QLabel(), self.database_url)
        storage_form.addRow(QLabel(), self.database_hint)
        storage_form.addRow(QLabel(), self.key_hint)

        self.poll_min = QDoubleSpinBox()
        self.poll_max = QDoubleSpinBox()
        for spin in (self.poll_min, self.poll_max):
            spin.setRange(1, 3600)
            spin.setDecimals(0)
        self.concurrency = QSpinBox()
        self.concurrency.setRange(1, 500)
        self.monitoring = QGroupBox()
        monitoring_form = QFormLayout(self.monitoring)
        monitoring_form.addRow(QLabel(), self.poll_min)
        monitoring_form.addRow(QLabel(), self.poll_max)
        monitoring_form.addRow(QLabel(), self.concurrency)

        self.language = QComboBox()
        self.language.addItem("", "system")
        self.language.addItem("中文（简体）", "zh_CN")
        self.language.addItem("English", "en")
        self.theme = QComboBox()
        for value in ("system", "light", "dark"):
            self.theme.addItem("", value)
        self.notifications = QCheckBox()
        self.do_not_disturb = QCheckBox()
        self.appearance = QGroupBox()
        appearance_form = QFormLayout(self.appearance)
        appearance_form.addRow(QLabel(), self.language)
        appearance_form.addRow(QLabel(), self.theme)
        appearance_form.addRow(self.notifications)
        appearance_form.addRow(self.do_not_disturb)

        self.server = ServerSection(self)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        # Two columns: the console's own settings, and the server beside them.
        columns = QHBoxLayout()
        left, right = QVBoxLayout(), QVBoxLayout()
        for group in (self.storage, self.monitoring, self.appearance):
            left.addWidget(group)
        right.addWidget(self.server)
        for column in (left, right):
            column.addStretch(1)
            columns.addLayout(column, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(columns)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

    def _load(self, settings: Settings) -> None:
        self.database_url.setText(settings.database_url)
        self.poll_min.setValue(settings.poll_interval_min_s)
        self.poll_max.setValue(settings.poll_interval_max_s)
        self.concurrency.setValue(settings.max_active_pages)
        self.language.setCurrentIndex(max(self.language.findData(settings.language), 0))
        self.theme.setCurrentIndex(max(self.theme.findData(settings.theme), 0))
        self.notifications.setChecked(settings.notifications)
        self.do_not_disturb.setChecked(settings.do_not_disturb)
        self.server.load(settings.server)

    # ---- Saving -------------------------------------------------------------------------
    def edited(self) -> dict[str, object]:
        """The values as edited; raises DatabaseUrlError."""
        url = self.database_url.text().strip()
        check_database_url(url)
        return dict(
            database_url=url,
            poll_interval_min_s=self.poll_min.value(),
            poll_interval_max_s=self.poll_max.value(),
            max_active_pages=self.concurrency.value(),
            language=self.language.currentData(),
            theme=self.theme.currentData(),
            notifications=self.notifications.isChecked(),
            do_not_disturb=self.do_not_disturb.isChecked(),
            server=self.server.edited(),
        )

    def save(self) -> None:
        try:
            self.engine.settings_service.update(**self.edited())
        except DatabaseUrlError:
            self._mark_url(valid=False)
            self.show_error(self.tr("The database URL is not valid. Use sqlite:///path/to/file.db or "
                                    "postgresql+psycopg://user:password@host/database, or leave it "
                                    "empty for the built-in database."))
            return
        except ValidationError as exc:
            if any(e["type"] == "value_error" for e in exc.errors()):
                self.show_error(self.tr("The longest poll interval must not be shorter than the shortest."))
            else:
                self.show_error(str(exc))
            return
        except OSError as exc:
            self.show_error(self.tr("Could not write {path}: {error}").format(
                path=str(self.engine.paths.settings_file), error=exc.strerror or str(exc)))
            return
        self.saved.emit(self.engine.settings)
        self.accept()

    def _mark_url(self, *, valid: bool) -> None:
        self.database_url.setProperty("invalid", not valid)
        self.database_url.style().polish(self.database_url)

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Settings"))
        self.storage.setTitle(self.tr("Storage"))
        self.monitoring.setTitle(self.tr("Monitoring"))
        self.appearance.setTitle(self.tr("Appearance and notifications"))
        set_form_labels(self.storage.layout(), self.tr("Data folder"), self.tr("Database URL"), "")
        set_form_labels(self.monitoring.layout(), self.tr("Shortest poll interval"), self.tr("Longest poll interval"),
                    self.tr("Open pages at most"))
        set_form_labels(self.appearance.layout(), self.tr("Language"), self.tr("Theme"))
        self.database_url.setPlaceholderText(self.tr("Empty: the built-in SQLite database in the data folder"))
        self.database_hint.setText(self.tr("A changed database URL takes effect when the console starts again."))
        self.key_hint.setText(self.tr("There is no system keyring: saved login sessions are protected by "
                                      "file permissions only (anyone who can read your files can use them)."))
        for spin in (self.poll_min, self.poll_max):
            spin.setSuffix(self.tr(" s"))
        self.concurrency.setToolTip(self.tr("How many accounts keep a live browser page at the same time; "
                                            "the others hibernate until their turn."))
        self.language.setItemText(0, self.tr("Same as the system"))
        for index, text in enumerate((self.tr("Same as the system"), self.tr("Light"), self.tr("Dark"))):
            self.theme.setItemText(index, text)
        self.notifications.setText(self.tr("Show desktop notifications for new messages"))
        self.do_not_disturb.setText(self.tr("Do not disturb (no notifications, counts still update)"))
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setText(self.tr("Save"))
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(self.tr("Cancel"))
        self.server.retranslate()

