"""The search dialog: where each hit is, a snippet with the match highlighted, pages of hits."""
from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from app.ui.components.search import PAGE_HITS, SearchDialog, SearchHitDelegate

from .conftest import T0, comments, ingest, run, wait_until


@pytest.fixture
def dialog(engine, qtbot, language):
    language("en")
    dialog = SearchDialog(engine.views)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def search(qloop, dialog, query: str, count: int) -> None:
    dialog.query.setText(query)  # as typed; the debounce runs the query
    wait_until(qloop, lambda: len(dialog.hits()) == count and dialog.status.text() != "Searching…")


def row_option(dialog, row: int) -> QStyleOptionViewItem:
    option = QStyleOptionViewItem()
    dialog.results.initViewItemOption(option)
    option.rect = dialog.results.visualRect(dialog.results.model().index(row, 0))
    return option


def test_a_long_message_shows_where_it_is_and_the_match_highlighted(engine, qloop, dialog, account):
    long_text = "开头" + "很长的铺垫，" * 40 + "这里说到了<b>退款</b>的事情" + "，后文" * 40
    ingest(qloop, engine, account, contents=[{"platform_content_id": "v1", "title": "开箱视频"}],
           comments=[{**comments("v1", 1)[0], "text": long_text}])
    search(qloop, dialog, "退款", 1)

    hit = dialog.hits()[0]
    assert hit.account_name == "Shop A" and hit.topic_title == "开箱视频"
    assert "退款" in hit.snippet and hit.snippet.startswith("…") and len(hit.snippet) < 100
    item_text = dialog.results.item(0).text()
    assert item_text.startswith("Shop A · 开箱视频 · Bob · ") and "退款" in item_text

    delegate = dialog.results.itemDelegate()
    assert isinstance(delegate, SearchHitDelegate)
    option = row_option(dialog, 0)
    layout = delegate.snippet_layout(hit, option, option.rect.width() - 12)
    shown = layout.text()
    assert "<b>退款</b>" in shown  # platform text stays text: the tags are characters
    marked = [shown[r.start:r.start + r.length] for r in layout.formats()]
    assert marked == ["退款"] and all(r.format.font().bold() for r in layout.formats())

    # The row paints the snippet: pixels change where the text is, not only the header.
    image = QImage(option.rect.size(), QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    option.rect = image.rect()
    delegate.paint(painter, option, dialog.results.model().index(0, 0))
    painter.end()
    lower = [image.pixelColor(x, y) for y in range(image.height() * 3 // 5, image.height() - 4)
             for x in range(0, image.width(), 3)]
    assert any(color != QColor("white") for color in lower)


def test_hits_of_both_kinds_come_newest_first_and_load_more_pages_without_repeats(
        engine, qloop, qtbot, dialog, account):
    other = run(qloop, engine.accounts.create("sandbox", "Shop B"))
    total = 2 * PAGE_HITS + 7
    ingest(qloop, engine, account, comments=[
        {**c, "text": f"物流太慢 {i}"} for i, c in enumerate(comments("v1", total // 2))])
    ingest(qloop, engine, other, conversations=[{"platform_conversation_id": "d1", "peer_id": "u-Eve",
                                                 "peer_name": "Eve"}], messages=[
        {"platform_message_id": f"m{i}", "platform_conversation_id": "d1", "sender_id": "u-Eve",
         "sender_name": "Eve", "text": f"物流太慢了 {i}", "created_at": T0 + timedelta(minutes=i, seconds=30)}
        for i in range(total - total // 2)])
    search(qloop, dialog, "物流太慢", PAGE_HITS)
    assert dialog.more.isVisible() and "more" in dialog.status.text()

    qtbot.mouseClick(dialog.more, Qt.MouseButton.LeftButton)
    wait_until(qloop, lambda: len(dialog.hits()) == 2 * PAGE_HITS)
    dialog.load_more()
    wait_until(qloop, lambda: len(dialog.hits()) == total)
    assert not dialog.more.isVisible() and dialog.status.text() == f"{total} found"

    hits = dialog.hits()
    times = [h.message.created_at for h in hits]
    assert times == sorted(times, reverse=True)
    keys = [(h.message.topic.account_id, h.message.id) for h in hits]
    assert len(set(keys)) == total
    assert {h.account_name for h in hits} == {"Shop A", "Shop B"}
    assert {h.topic_title for h in hits} == {"v1", "Eve"}  # a work without a title shows its id
