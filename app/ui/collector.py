"""Python's cyclic garbage collection, run on the Qt thread only.

The collector normally runs in whichever thread happens to allocate when a threshold is
crossed; in the console that is often a database or executor thread. When such a collection
frees a cycle that holds a Qt object (a closed dialog, an old model and the lambdas connected
to it), the C++ destructor runs on the wrong thread, the object's timers are never
unregistered, and Qt later crashes in QTimerInfoList::activateTimers. So automatic collection
is switched off while the console runs, and a timer on the Qt thread collects instead, with
the same thresholds Python would have used.
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_INTERVAL_MS = 250


class MainThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_INTERVAL_MS)
        self._timer.timeout.connect(self.collect_if_due)

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()

    def collect_if_due(self) -> None:
        """Collect the oldest generation whose threshold is crossed (as the automatic collector does)."""
        counts = gc.get_count()
        if counts[0] <= self._thresholds[0]:
            return
        generation = 0
        while generation < 2 and counts[generation + 1] > self._thresholds[generation + 1]:
            generation += 1
        gc.collect(generation)
