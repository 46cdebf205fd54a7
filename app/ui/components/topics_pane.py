"""The middle pane: one channel's topics with a filter (all, comments, DMs, unread).

It owns the TopicsModel of the channel shown and re-creates it when the channel or the
filter changes; the selection is the topic open in the chat pane. Opening a channel opens no
topic by itself (only a topic the operator chose, or the one a search or the restored state
asks for, is shown and so marked read); a right click opens the topic's menu and nothing else.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QMenu, QVBoxLayout, QWidget

from app.engine.im.types import Topic, TopicRef

from ..bridge import EngineBridge, spawn
from .activity_list import ActivityList
from ..models.keyed import ObjectRole
from ..models.topics import TopicFilter, TopicsModel
from ..views.topic_delegate import TopicDelegate


class TopicsPane(QWidget):
    #: Topic: the operator selected a topic
    topic_selected = Signal(object)
    #: Topic: a listed topic's title or counters changed (the chat pane's header follows)
    topic_updated = Signal(object)

    def __init__(self, engine, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._engine = engine
        self._bridge = bridge
        self.model: TopicsModel | None = None
        self._wanted: TopicRef | None = None  # select this topic once its row arrives

        self.filter = QComboBox(self)
        for key in ("all", "content", "conversation", "unread"):
            self.filter.addItem("", key)
        self.filter.currentIndexChanged.connect(self._on_filter_changed)

        self.list = ActivityList(self)
        self.list.setObjectName("topics")
        self.list.setItemDelegate(TopicDelegate(self.list))
        self.list.setUniformItemSizes(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setMouseTracking(True)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._show_menu)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter)
        layout.addWidget(self.list, 1)
        self.retranslate()

    # ---- Public API -----------------------------------------------------------------------
    @property
    def account_id(self) -> str | None:
        return self.model.account_id if self.model is not None else None

    @property
    def topic_filter(self) -> TopicFilter:
        return self.filter.currentData()

    def show_channel(self, account_id: str | None, *, select: TopicRef | None = None) -> None:
        """List this channel's topics (None: nothing) and select `select` when it shows."""
        self._wanted = select
        if account_id is not None and account_id == self.account_id:
            self._select_wanted()
            return
        self._make_model(account_id)

    def set_filter(self, topic_filter: TopicFilter) -> None:
        self.filter.setCurrentIndex(self.filter.findData(topic_filter))

    def pin(self, topic: Topic | None) -> None:
        if self.model is not None:
            self.model.pin(topic)

    def select(self, ref: TopicRef) -> None:
        """Open this listed topic, as a click on its row does."""
        row = self.model.row_of(ref) if self.model is not None else None
        if row is not None:
            self._select_row(row)

    def build_menu(self, topic: Topic) -> QMenu:
        """The actions on one topic row (also used by the tests)."""
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        open_action = menu.addAction(self.tr("Open"), lambda: self.select(topic.ref))
        open_action.setObjectName("open")
        read = menu.addAction(self.tr("Mark read"), lambda: spawn(self._engine.views.mark_read(topic.ref)))
        read.setObjectName("markRead")
        unread = menu.addAction(self.tr("Mark unread"), lambda: spawn(self._mark_unread(topic.ref)))
        unread.setObjectName("markUnread")
        unread.setEnabled(topic.message_count > 0)
        link = menu.addAction(self.tr("Copy link"),
                              lambda: QGuiApplication.clipboard().setText(topic.url or ""))
        link.setObjectName("copyLink")
        link.setEnabled(bool(topic.url))
        return menu

    def current_topic(self) -> Topic | None:
        index = self.list.currentIndex()
        return index.data(ObjectRole) if index.isValid() else None

    def move(self, step: int) -> None:
        """Select the topic `step` rows below (negative: above) the selected one."""
        if self.model is None or not self.model.rowCount():
            return
        current = self.list.currentIndex()
        row = current.row() + step if current.isValid() else 0
        row = max(0, min(self.model.rowCount() - 1, row))
        if row == self.model.rowCount() - 1 and self.model.canFetchMore():
            self.model.fetchMore()
        self._select_row(row)

    def retranslate(self) -> None:
        labels = {"all": self.tr("All"), "content": self.tr("Comments"),
                  "conversation": self.tr("Direct messages"), "unread": self.tr("Unread")}
        for row in range(self.filter.count()):
            self.filter.setItemText(row, labels[self.filter.itemData(row)])
        self.list.viewport().update()  # the rows' words ("DM", times) are painted at paint time

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    # ---- Internals ------------------------------------------------------------------------
    def _show_menu(self, pos: QPoint) -> None:
        index = self.list.indexAt(pos)
        topic: Topic | None = index.data(ObjectRole) if index.isValid() else None
        if topic is not None:
            self.list.popup_menu(self.build_menu(topic), pos)

    async def _mark_unread(self, ref: TopicRef) -> None:
        """Make the topic's newest message from the audience unread again."""
        page = await self._engine.views.messages(ref, limit=50)
        inbound = [m for m in page.items if m.direction == "in"]
        if inbound:
            await self._engine.views.mark_unread(ref, inbound[-1].id)

    def _make_model(self, account_id: str | None) -> None:
        old = self.model
        self.model = None
        if account_id is not None:
            self.model = TopicsModel(self._engine.views, self._bridge, account_id,
                                     self.topic_filter, self)
            self.model.rowsInserted.connect(lambda *_: self._select_wanted())
            self.model.modelReset.connect(self._select_wanted)
            self.model.dataChanged.connect(lambda first, last: self._announce(first.row(), last.row()))
            self.model.rowsInserted.connect(lambda _parent, first, last: self._announce(first, last))
        self.list.setModel(self.model)
        if self.model is not None:
            self.list.selectionModel().currentChanged.connect(self._on_current_changed)
            self.model.fetchMore()  # the first page (the view asks for the next ones)
        if old is not None:
            old.deleteLater()

    def _on_filter_changed(self) -> None:
        if self.model is not None:
            current = self.current_topic()
            self._wanted = current.ref if current is not None else None
            self._make_model(self.model.account_id)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        topic: Topic | None = current.data(ObjectRole) if current.isValid() else None
        if topic is not None:
            self._wanted = None
            self.model.pin(topic)
            self.topic_selected.emit(topic)

    def _announce(self, first: int, last: int) -> None:
        for row in range(first, last + 1):
            topic = self.model.index(row, 0).data(ObjectRole)
            if topic is not None:
                self.topic_updated.emit(topic)

    def _select_wanted(self) -> None:
        """Select the topic asked for (a search hit, the restored state) once it is listed."""
        if self.model is None or not self.model.rowCount() or self._wanted is None:
            return
        row = self.model.row_of(self._wanted)
        if row is not None and row != self.list.currentIndex().row():
            self._select_row(row)

    def _select_row(self, row: int) -> None:
        index = self.model.index(row, 0)
        self.list.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.list.scrollTo(index)
