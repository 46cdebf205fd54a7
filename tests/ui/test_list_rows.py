"""The two-line rows of the channel and topic lists: they fit the list whatever its scrollbar
does, names are cut only when they must be, and a person has one avatar colour everywhere."""
from __future__ import annotations

from datetime import timedelta

from PySide6.QtGui import QFont, QFontMetrics, QStandardItemModel

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


def test_a_customer_has_one_avatar_colour_in_the_topic_list_and_the_chat(engine, bridge, qloop, qtbot, account):
    from app.ui.components.chat_pane import ChatPane
    from app.ui.views.rows import MARGIN

    ingest(qloop, engine, account, conversations=[
        {"platform_conversation_id": "d1", "peer_id": "u-lucy", "peer_name": "Lucy"}], messages=[
        {"platform_message_id": "m1", "platform_conversation_id": "d1", "sender_id": "u-lucy",
         "sender_name": "Lucy", "text": "Is the preset pack on sale?", "created_at": T0}])
    pane = TopicsPane(engine, bridge)
    chat = ChatPane(engine, bridge)
    for widget in (pane, chat):
        qtbot.addWidget(widget)
        widget.resize(400, 400)
        widget.show()
    pane.show_channel(account)
    wait_until(qloop, lambda: pane.model is not None and pane.model.rowCount() == 1)
    chat.open_topic(pane.model.item(0))
    wait_until(qloop, lambda: chat.model is not None and chat.model.rowCount() == 1)

    row = pane.list.visualRect(pane.model.index(0, 0))
    list_image = pane.list.viewport().grab().toImage()
    # Left of the initials, inside the circle.
    in_list = list_image.pixelColor(row.left() + MARGIN + 6, row.center().y())
    bubble = chat.delegate.geometry(chat.list.visualRect(chat.model.index(0, 0)), chat.model.item(0),
                                    chat.list.font()).avatar
    in_chat = chat.list.viewport().grab().toImage().pixelColor(bubble.left() + 5, bubble.center().y())
    assert in_list.name() == in_chat.name()
    assert in_list.name() != list_image.pixelColor(row.right() - 2, row.center().y()).name()  # an avatar, not the row


def test_a_platform_logo_keeps_its_colours_on_a_selected_row(qapp):
    from PySide6.QtGui import QIcon

    from app.ui.theme import platform_icon

    icon = platform_icon("sandbox")
    normal = icon.pixmap(16, 16, QIcon.Mode.Normal).toImage()
    selected = icon.pixmap(16, 16, QIcon.Mode.Selected).toImage()
    assert selected == normal


def test_an_account_row_shows_the_avatar_kept_at_its_login_and_the_next_one(engine, qloop, account, tmp_path):
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtWidgets import QStyleOptionViewItem

    from app.engine.avatars import save_avatar
    from app.ui.models.keyed import ObjectRole
    from app.ui.views.avatar_images import AvatarImages
    from app.ui.views.channel_delegate import ChannelDelegate
    from app.ui.views.rows import AVATAR, MARGIN, ROW_HEIGHT

    from .conftest import run

    delegate = ChannelDelegate(AvatarImages(engine.paths.data_dir))

    def avatar_centre() -> str:
        channel = next(c for c in run(qloop, engine.views.channels()) if c.account_id == account)
        index = QStandardItemModel(1, 1)
        index.setData(index.index(0, 0), channel, ObjectRole)
        image = QImage(320, ROW_HEIGHT, QImage.Format.Format_RGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        option = QStyleOptionViewItem()
        option.rect = QRect(0, 0, 320, ROW_HEIGHT)
        delegate.paint(painter, option, index.index(0, 0))
        painter.end()
        return QColor(image.pixel(MARGIN + AVATAR // 2, ROW_HEIGHT // 2 - AVATAR // 4)).name()

    def keep(color: str) -> None:
        picture = QImage(64, 64, QImage.Format.Format_RGB32)
        picture.fill(QColor(color))
        path = tmp_path / f"{color[1:]}.png"
        picture.save(str(path), "PNG")
        save_avatar(engine.paths.data_dir, account, path.read_bytes())  # what a login keeps

    initials = avatar_centre()
    assert initials not in ("#ff0000", "#0000ff")  # none kept: the initials' colour
    keep("#ff0000")
    assert avatar_centre() == "#ff0000"
    keep("#0000ff")  # the next login brought another
    assert avatar_centre() == "#0000ff"


def test_a_sandbox_avatar_is_drawn_in_its_colour_not_black(qapp):
    from PySide6.QtCore import QByteArray
    from PySide6.QtGui import QColor, QPixmap

    from app.platforms.sandbox.site.pages import avatar_svg

    picture = QPixmap()
    assert picture.loadFromData(QByteArray(avatar_svg("u-lucy").encode()), "SVG")
    above_the_head = QColor(picture.toImage().pixel(32, 6))
    assert above_the_head.saturation() > 60 and above_the_head.lightness() > 60, above_the_head.name()
