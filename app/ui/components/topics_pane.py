"""The middle pane: one channel's topics with a filter (all, comments, DMs, unread).

It owns the TopicsModel of the channel shown and re-creates it when the channel or the
filter changes; the selection is the topic open in the chat pane.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, Signal
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QListView, QVBoxLayout, QWidget

from app.engine.im.types import Topic, TopicRef

from ..bridge import EngineBridge
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

        self.list = QListView(self)
        self.list.setItemDelegate(TopicDelegate(self.list))
        self.list.setUniformItemSizes(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setMouseTracking(True)

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
        """Select the topic asked for, else (a channel just opened) the most recent one."""
        if self.model is None or not self.model.rowCount():
            return
        current = self.list.currentIndex()
        if self._wanted is not None:
            row = self.model.row_of(self._wanted)
            if row is not None and row != current.row():
                self._select_row(row)
        elif not current.isValid():
            self._select_row(0)

    def _select_row(self, row: int) -> None:
        index = self.model.index(row, 0)
        self.list.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.list.scrollTo(index)
