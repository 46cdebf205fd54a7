"""The tray icon: unread count and notifications, against the real engine."""
from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from app.engine.events import Notification
from app.engine.settings import load_settings
from app.ui.tray import Tray
from app.ui.widgets.badge import BADGE_COLOUR

from .conftest import comments, ingest, run, wait_until


def make_tray(engine, qtbot) -> tuple[Tray, list[tuple[str, str]]]:
    window = QWidget()
    qtbot.addWidget(window)
    tray = Tray(engine, window)
    shown: list[tuple[str, str]] = []
    tray.notified.connect(lambda title, body: shown.append((title, body)))
    return tray, shown


def badge_pixel(tray: Tray) -> QColor:
    image = tray.icon.icon().pixmap(64, 64).toImage()
    return image.pixelColor(image.width() - 6, 10)  # inside the badge, top right


def test_tray_count_follows_unread(engine, account, qloop, qtbot):
    tray, _ = make_tray(engine, qtbot)
    wait_until(qloop, lambda: tray.icon.toolTip() == "HisCRM Console: all read")
    assert badge_pixel(tray) != QColor(BADGE_COLOUR)

    ingest(qloop, engine, account, comments=comments("v1", 3))
    wait_until(qloop, lambda: tray.unread == 3)
    assert tray.icon.toolTip() == "HisCRM Console: 3 unread"
    assert badge_pixel(tray) == QColor(BADGE_COLOUR)

    run(qloop, engine.views.mark_all_read())
    wait_until(qloop, lambda: tray.unread == 0)
    assert tray.icon.toolTip() == "HisCRM Console: all read"
    tray.close()


def test_tray_notifies_new_messages_unless_do_not_disturb(engine, account, qloop, qtbot, language):
    language("en")  # English plural forms
    tray, shown = make_tray(engine, qtbot)
    ingest(qloop, engine, account, comments=comments("v1", 1, author="Ann"))
    wait_until(qloop, lambda: shown)
    assert shown == [("Shop A", "comment 0")]  # the account, and the message itself

    ingest(qloop, engine, account, comments=comments("v1", 2, start=1))
    wait_until(qloop, lambda: len(shown) == 2)
    assert shown[1] == ("Shop A", "2 new messages")

    # Do not disturb from the tray menu: remembered, and only the count moves.
    tray.dnd_action.trigger()
    assert engine.settings.do_not_disturb
    assert load_settings(engine.paths.settings_file).do_not_disturb
    ingest(qloop, engine, account, comments=comments("v1", 2, start=3))
    wait_until(qloop, lambda: tray.unread == 5)
    assert len(shown) == 2

    # Warnings that need someone (an expired session) still come through.
    engine.bus.publish(Notification("Shop A", "The login has expired", level="warning"))
    wait_until(qloop, lambda: len(shown) == 3)
    tray.close()


def test_tray_menu_shows_and_hides_the_window(engine, qloop, qtbot):
    tray, _ = make_tray(engine, qtbot)
    window = tray.window
    tray.menu.aboutToShow.emit()
    assert tray.show_action.text() == "Show window"
    tray.show_action.trigger()
    assert window.isVisible()
    tray.menu.aboutToShow.emit()
    assert tray.show_action.text() == "Hide window"
    tray.show_action.trigger()
    assert not window.isVisible()
    tray.close()
