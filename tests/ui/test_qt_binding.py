"""The Qt binding itself: a release that mishandles references crashes the console after
minutes of use, so the installed one is checked (PySide6 6.12.0 under Python 3.11 lost a
reference to None on every call of a void method and the interpreter aborted)."""
import sys

from PySide6.QtCore import QObject


def test_void_qt_calls_keep_the_reference_count_of_none():
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(1000):
        probe.setObjectName("probe")
    assert sys.getrefcount(None) - before > -100
