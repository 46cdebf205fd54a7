"""The Qt binding itself: a release that mishandles references crashes the console after
minutes of use, so the installed one is checked (PySide6 6.12.0 under Python 3.11 lost a
reference to None on every call of a void method and the interpreter aborted)."""
import sys

import pytest
from PySide6.QtCore import QObject


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12 (PEP 683): its "
                    "reference count never changes, so a lost reference can neither crash nor be seen")
def test_void_qt_calls_keep_the_reference_count_of_none():
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(1000):
        probe.setObjectName("probe")
    assert sys.getrefcount(None) - before > -100
