"""The two-line rows of the channel and topic lists: they fit the list whatever its scrollbar
does, names are cut only when they must be, and a person has one avatar colour everywhere."""
from __future__ import annotations

from datetime import timedelta

from PySide6.QtGui import QFont, QFontMetrics

from app.ui.components.topics_pane import TopicsPane
from app.ui.views.rows import RowDelegate

from .conftest import T0, ingest, wait_until


def dm_records(count: int) -> list[dict]:
    return [
        {"platform_message_id": f"m{i}", "platform_conversation_id": f"d{i}", "sender_id": f"u{i}",
         "sender_name": f"Customer {i}", "text": f"hello {i}", "created_at": T0 + timedelta(minutes=i)}
        for i in range(count)
    ]


def test_rows_fit_the_list_once_it_needs_a_vertical_scrollbar(engine, bridge, qloop, qtbot, account):
    pane = TopicsPane(engine, bridge)
    qtbot.addWidget(pane)
    pane.resize(300, 400)
    pane.show()
    ingest(qloop, engine, account, messages=dm_records(2))
    pane.show_channel(account)
    wait_until(qloop, lambda: pane.model is not None and pane.model.rowCount() == 2)
    ingest(qloop, engine, account, messages=dm_records(30))  # now they overflow
    wait_until(qloop, lambda: pane.model.rowCount() >= 20)
    pane.list.viewport().grab()  # lays the rows out and paints them
    assert pane.list.verticalScrollBar().isVisible()
    assert not pane.list.horizontalScrollBar().isVisible()
    row = pane.list.visualRect(pane.model.index(0, 0))
    assert row.width() == pane.list.viewport().width()  # the time and the badge are inside


def test_a_name_is_cut_only_when_it_cannot_fit():
    font = QFont()
    title_fm, tag_fm = QFontMetrics(font), QFontMetrics(font)
    name = "Budget travel in Chengdu"
    room = title_fm.horizontalAdvance(name) + 2  # room for the name, not for the name and its tag
    assert RowDelegate.fit_title(name, "Comments", room, title_fm, tag_fm) == (name, "")
    wide = room + tag_fm.horizontalAdvance("Comments") + 10
    assert RowDelegate.fit_title(name, "Comments", wide, title_fm, tag_fm) == (name, "Comments")
    cut, tag = RowDelegate.fit_title(name, "Comments", room // 2, title_fm, tag_fm)
    assert cut.endswith("…") and tag == ""
