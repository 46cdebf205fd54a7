"""Operator-facing words for the pool's monitor states and the workers' states, and times in
the operator's locale.

Built at call time so a language switch applies at once. (Login states have their words in
app.ui.views.painting.login_state_label, shared with the channel list.)
"""
from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QCoreApplication, QDateTime, QLocale


def monitor_state(code: str | None) -> str:
    names = {
        "active": QCoreApplication.translate("MonitorState", "Active"),
        "hibernating": QCoreApplication.translate("MonitorState", "Hibernating"),
        "backoff": QCoreApplication.translate("MonitorState", "Backing off"),
        "stopped": QCoreApplication.translate("MonitorState", "Stopped"),
        "crashed": QCoreApplication.translate("MonitorState", "Crashed"),
    }
    return names.get(code or "", code or "—")


def worker_state(code: str | None) -> str:
    names = {
        "online": QCoreApplication.translate("WorkerState", "Online"),
        "offline": QCoreApplication.translate("WorkerState", "Offline"),
        "switched_off": QCoreApplication.translate("WorkerState", "Switched off"),
    }
    return names.get(code or "", code or "—")


def local_time(when: datetime | None) -> str:
    """A UTC instant shown in the operator's time zone and locale, or a dash."""
    if when is None:
        return "—"
    moment = QDateTime.fromMSecsSinceEpoch(int(when.timestamp() * 1000)).toLocalTime()
    return QLocale().toString(moment, QLocale.FormatType.ShortFormat)
