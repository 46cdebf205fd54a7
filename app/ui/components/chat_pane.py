"""The chat pane: one topic's messages as bubbles, and the reply box under them.

- Opening a topic loads its newest page and scrolls to the bottom; scrolling to the top loads
  the page before, keeping the message under the operator's eyes where it was.
- While the view is at the bottom, a new message scrolls it along; otherwise it stays put.
- Viewing a topic marks the messages loaded into it read, and those that arrive while it is
  shown, but only while the window is visible and active: what arrives while the operator is
  in another window stays unread until the window is active again. "Mark unread" in a
  message's menu undoes that for one message.
- Selecting a comment makes it the reply target; Enter sends through the outbox, whose
  placeholder message shows at once and whose status ticks follow `MessageStatusChanged`.
- What is typed is the open topic's draft (components.drafts): another topic shows its own,
  and the header names the account that replies, since several accounts may have works with
  the same title.
"""
from __future__ import annotations

import logging

import shiboken6
from PySide6.QtCore import QEvent, QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QTextCursor
from PySide6.QtWidgets import QAbstractItemView, QLabel, QListView, QMenu, QVBoxLayout, QWidget

from app.engine.events import AccountStatusChanged
from app.engine.im.types import Message, Topic, TopicRef

from ..bridge import EngineBridge, spawn
from ..models.keyed import ObjectRole
from ..models.messages import MessagesModel
from ..views.bubble_delegate import CANCELLABLE, RETRYABLE, UNCERTAIN, BubbleDelegate
from ..reasons import reply_refusal
from ..views.painting import platform_label
from .drafts import Drafts
from .reply_box import ReplyBox

log = logging.getLogger(__name__)

MARK_READ_DELAY_MS = 300


class MessageList(QListView):
    """The bubbles. While `following` (the operator is at the bottom), the view stays on the
    newest message whatever happens to the rows (new ones, a wider window re-wrapping
    them); scrolling up stops that, and reaching the top asks for older history."""

    reached_top = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.following = True
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setUniformItemSizes(False)
        self.setMouseTracking(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        bar = self.verticalScrollBar()
        bar.setSingleStep(24)
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range_changed)

    def at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def follow_newest(self) -> None:
        self.following = True
        self.scrollToBottom()

    def _on_scrolled(self, value: int) -> None:
        self.following = self.at_bottom()
        if value == self.verticalScrollBar().minimum():
            self.reached_top.emit()

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self.following:
            self.verticalScrollBar().setValue(maximum)
        if maximum == 0:
            self.reached_top.emit()  # everything fits: there is room for older messages


class ChatPane(QWidget):
    #: TopicRef: the topic shown changed (None: nothing shown)
    topic_changed = Signal(object)
    #: str: the operator asked to log the shown topic's account in again
    login_requested = Signal(str)

    def __init__(self, engine, bridge: EngineBridge, parent: QWidget | None = None, *,
                 drafts: Drafts | None = None) -> None:
        super().__init__(parent)
        self._engine = engine
        self._bridge = bridge
        self._drafts = drafts if drafts is not None else Drafts()
        self.topic: Topic | None = None
        self.account = None  # the AccountRow of the open topic (who replies), once fetched
        self.model: MessagesModel | None = None
        self._focus_message: str | None = None  # jump target waiting for its page
        self._anchor: tuple[str, int] | None = None  # (message id, y) kept across a prepend
        self._unseen: set[str] = set()  # unread messages shown, to mark read once seen

        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setObjectName("chatTitle")
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        self.subtitle = QLabel(self)
        self.subtitle.setTextFormat(Qt.TextFormat.PlainText)
        self.account_label = QLabel(self)
        self.account_label.setObjectName("replyingAs")
        self.account_label.setTextFormat(Qt.TextFormat.PlainText)
        bridge.accounts_changed.connect(lambda _event: self._fetch_account())

        self.list = MessageList(self)
        self.delegate = BubbleDelegate(self.list)
        self.list.setItemDelegate(self.delegate)
        self.list.reached_top.connect(self._load_older)
        self.list.customContextMenuRequested.connect(self._show_menu)
        self.delegate.retry_requested.connect(self.retry)
        self.delegate.cancel_requested.connect(self.cancel)

        self.reply_box = ReplyBox(self)
        self.reply_box.send_requested.connect(self.send)
        self.reply_box.input.textChanged.connect(self._keep_draft)
        self.reply_box.target_cleared.connect(self.list.clearSelection)
        self.reply_box.login_requested.connect(self._ask_login)
        bridge.account_status_changed.connect(self._on_account_status)
        self.list.clicked.connect(self._target_message)

        self.placeholder = QLabel(self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        header = QVBoxLayout()
        header.setContentsMargins(12, 8, 12, 8)
        header.addWidget(self.title)
        header.addWidget(self.subtitle)
        header.addWidget(self.account_label)
        layout.addLayout(header)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.placeholder, 1)
        layout.addWidget(self.reply_box)

        self._mark_read_timer = QTimer(self)
        self._mark_read_timer.setSingleShot(True)
        self._mark_read_timer.setInterval(MARK_READ_DELAY_MS)
        self._mark_read_timer.timeout.connect(self.mark_read)
        QGuiApplication.instance().focusWindowChanged.connect(self._on_focus_window_changed)
        self._show_empty()

    # ---- Public API -----------------------------------------------------------------------
    def open_topic(self, topic: Topic, *, around: Message | None = None) -> None:
        """Show `topic`: its newest messages, or the page ending at `around` (a search hit)."""
        same = self.topic is not None and self.topic.ref == topic.ref
        same_account = self.topic is not None and self.topic.ref.account_id == topic.ref.account_id
        self.topic = topic
        self._show_header(topic)
        if not same_account:
            self.reply_box.show_account_state(None)  # until the account's state is read
            self._read_account_state(topic.ref.account_id)
        if same and around is None:
            return
        if not same:
            self.reply_box.input.setPlainText(self._drafts.get(topic.ref))
            self.reply_box.input.moveCursor(QTextCursor.MoveOperation.End)
            self._fetch_account()
        self._focus_message = around.id if around is not None else None
        self._unseen.clear()
        old = self.model
        self.model = MessagesModel(self._engine.views, self._bridge, topic.ref, self)
        self.model.loaded.connect(self._on_loaded)
        self.model.older_loaded.connect(self._restore_anchor)
        self.model.rowsAboutToBeInserted.connect(self._before_insert)
        self.model.rowsInserted.connect(self._after_insert)
        self.model.rowsAboutToBeRemoved.connect(self._before_remove)
        self.model.rowsRemoved.connect(self._after_remove)
        self.model.dataChanged.connect(self._on_data_changed)
        self.delegate.forget_all()
        self.list.setModel(self.model)
        self.list.selectionModel().currentChanged.connect(self._on_current_changed)
        if old is not None:
            old.deleteLater()
        self.reply_box.clear_target()
        self.reply_box.show_error(None)
        self.placeholder.hide()
        self.list.show()
        self.reply_box.show()
        if around is not None:
            self.model.load_around(around)
        else:
            self.model.load_newest()
        self.topic_changed.emit(topic.ref)

    def update_topic(self, topic: Topic) -> None:
        """The shown topic's title or counters changed."""
        if self.topic is not None and self.topic.ref == topic.ref:
            self.topic = topic
            self._show_header(topic)

    def close_topic(self) -> None:
        self.topic = None
        self.reply_box.input.clear()  # the draft stays with its topic
        if self.model is not None:
            self.list.setModel(None)
            self.model.deleteLater()
            self.model = None
        self._show_empty()
        self.topic_changed.emit(None)

    def selected_message(self) -> Message | None:
        index = self.list.currentIndex()
        return index.data(ObjectRole) if index.isValid() else None

    def send(self, text: str, reply_to: str | None) -> None:
        if self.topic is None:
            return
        ref = self.topic.ref
        self.list.follow_newest()
        spawn(self._engine.outbox.reply(ref, text, reply_to=reply_to),
              on_done=lambda _reply_id: self._reply_accepted(ref, text),
              on_error=lambda exc: self._reply_refused(ref, exc))

    def _reply_accepted(self, ref: TopicRef, text: str) -> None:
        """The outbox took the reply: empty that topic's draft, wherever the operator is now."""
        if self.topic is not None and self.topic.ref == ref:
            self.reply_box.accepted()
        elif self._drafts.get(ref) == text:
            self._drafts.put(ref, "")

    def _reply_refused(self, ref: TopicRef, exc: BaseException) -> None:
        if self.topic is not None and self.topic.ref == ref:
            log.info("reply to %s refused: %s", ref, exc)
            self.reply_box.show_error(reply_refusal(exc))
        else:  # the text stays in that topic's draft; the reason must not land on this one
            log.warning("reply to %s refused: %s", ref, exc)

    def retry(self, reply_id: str) -> None:
        spawn(self._engine.outbox.retry(reply_id), on_error=self._report)

    def cancel(self, reply_id: str) -> None:
        spawn(self._engine.outbox.cancel(reply_id), on_error=self._report)

    def confirm_sent(self, reply_id: str) -> None:
        spawn(self._engine.outbox.confirm_sent(reply_id), on_error=self._report)

    def send_again(self, reply_id: str) -> None:
        spawn(self._engine.outbox.send_again(reply_id), on_error=self._report)

    def is_seen(self) -> bool:
        """Whether the operator can see the pane now: shown, in the active window."""
        return self.isVisible() and self.window().isActiveWindow() and not self.window().isMinimized()

    def mark_read(self) -> None:
        """Mark the unread messages shown read, if the operator can see them now."""
        if self.topic is None or not self._unseen or not self.is_seen():
            return
        ids, self._unseen = sorted(self._unseen), set()
        spawn(self._engine.views.mark_read(self.topic.ref, ids), on_error=self._report)

    def mark_unread(self, message: Message) -> None:
        self._unseen.discard(message.id)
        if self.topic is not None:
            spawn(self._engine.views.mark_unread(self.topic.ref, message.id), on_error=self._report)

    # ---- Loading and scrolling ------------------------------------------------------------
    def _on_loaded(self) -> None:
        model = self.model
        if model is None:
            return
        if self._focus_message is not None and model.row_of(self._focus_message) is not None:
            index = model.index_of(self._focus_message)
            self._focus_message = None
            self.list.following = False
            self.list.setCurrentIndex(index)
            self.list.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        else:
            self.list.follow_newest()
        self._note_unseen(model.items())

    def _load_older(self) -> None:
        if self.model is not None and self.model.rowCount() and self.model.has_older:
            self.model.fetch_older()

    def _before_insert(self, _parent: QModelIndex, first: int, _last: int) -> None:
        if first == 0 and self.model is not None and self.model.rowCount():
            self._remember_anchor()  # older messages go above

    def _before_remove(self, _parent: QModelIndex, first: int, _last: int) -> None:
        if first == 0:
            self._remember_anchor()  # the oldest rows go (the window moved down)

    def _after_remove(self, _parent: QModelIndex, first: int, _last: int) -> None:
        if first == 0:
            self._restore_anchor()

    def _remember_anchor(self) -> None:
        """Remember where the top visible message is on screen, to keep it there while rows
        above it come or go."""
        index = self.list.indexAt(QPoint(4, 4))
        if not index.isValid():
            index = self.model.index(0, 0)
        self._anchor = (index.data(ObjectRole).id, self.list.visualRect(index).top())

    def _after_insert(self, _parent: QModelIndex, first: int, last: int) -> None:
        model = self.model
        if model is None:
            return
        self._note_unseen([model.item(row) for row in range(first, last + 1)])

    def _restore_anchor(self, _count: int = 0) -> None:
        """Put the message that was at the top back where it was after rows above it came in
        or went."""
        anchor, self._anchor = self._anchor, None
        if anchor is None or self.model is None:
            return
        message_id, y = anchor

        def restore() -> None:
            if self.model is None or self.model.row_of(message_id) is None:
                return
            self.list.doItemsLayout()
            index = self.model.index_of(message_id)
            bar = self.list.verticalScrollBar()
            bar.setValue(bar.value() + self.list.visualRect(index).top() - y)

        restore()

    def _on_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex) -> None:
        for row in range(top_left.row(), bottom_right.row() + 1):
            message = self.model.item(row) if self.model is not None else None
            if message is not None:
                self.delegate.forget(message.id)
        self.list.scheduleDelayedItemsLayout()

    # ---- Selection, menu ------------------------------------------------------------------
    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._target_message(current)

    def _target_message(self, index: QModelIndex) -> None:
        """A selected audience comment becomes what the reply answers."""
        message: Message | None = index.data(ObjectRole) if index.isValid() else None
        if message is not None and message.kind == "comment" and message.direction == "in":
            self.reply_box.set_target(message)

    def _show_menu(self, pos: QPoint) -> None:
        index = self.list.indexAt(pos)
        message: Message | None = index.data(ObjectRole) if index.isValid() else None
        if message is None:
            return
        menu = self.build_menu(message)
        menu.popup(self.list.viewport().mapToGlobal(pos))

    def build_menu(self, message: Message) -> QMenu:
        """The actions on one message (also used by the tests)."""
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if message.kind == "comment" and message.direction == "in":
            reply = QAction(self.tr("Reply"), menu)
            reply.triggered.connect(lambda: (self.reply_box.set_target(message),
                                             self.reply_box.input.setFocus()))
            menu.addAction(reply)
        copy = QAction(self.tr("Copy text"), menu)
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(message.text))
        menu.addAction(copy)
        if message.direction == "in":
            unread = QAction(self.tr("Mark unread"), menu)
            unread.setObjectName("markUnread")
            unread.triggered.connect(lambda: self.mark_unread(message))
            menu.addAction(unread)
        if message.reply_id and message.reply_status in RETRYABLE:
            retry = QAction(self.tr("Retry sending"), menu)
            retry.setObjectName("retry")
            retry.triggered.connect(lambda: self.retry(message.reply_id))
            menu.addAction(retry)
        if message.reply_id and message.reply_status == UNCERTAIN:
            confirm = QAction(self.tr("It is on the platform: mark sent"), menu)
            confirm.setObjectName("confirmSent")
            confirm.triggered.connect(lambda: self.confirm_sent(message.reply_id))
            menu.addAction(confirm)
            again = QAction(self.tr("It is not on the platform: send again"), menu)
            again.setObjectName("sendAgain")
            again.triggered.connect(lambda: self.send_again(message.reply_id))
            menu.addAction(again)
        if message.reply_id and message.reply_status in CANCELLABLE:
            cancel = QAction(self.tr("Cancel reply"), menu)
            cancel.setObjectName("cancel")
            cancel.triggered.connect(lambda: self.cancel(message.reply_id))
            menu.addAction(cancel)
        return menu

    def retranslate(self) -> None:
        self.placeholder.setText(self.tr("Choose a conversation or a work on the left."))
        if self.topic is not None:
            self._show_header(self.topic)
        else:
            self.title.setText(self.tr("No topic open"))
        self.delegate.forget_all()  # the status footers' words change their widths
        self.list.scheduleDelayedItemsLayout()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
            self._show_account()
        super().changeEvent(event)

    # ---- Internals ------------------------------------------------------------------------
    def _show_header(self, topic: Topic) -> None:
        self.title.setText(topic.title)
        kind = self.tr("Direct messages") if topic.is_private else self.tr("Comments")
        count = self.tr("%n message(s)", "", topic.message_count)
        self.subtitle.setText(f"{kind} · {count}")

    def _keep_draft(self) -> None:
        if self.topic is not None:
            self._drafts.put(self.topic.ref, self.reply_box.text())

    def _fetch_account(self) -> None:
        """Look up who replies in the open topic (its account's name and platform)."""
        if self.topic is None:
            return
        account_id = self.topic.ref.account_id
        if self.account is not None and self.account.id != account_id:
            self.account = None
            self._show_account()

        def show(account) -> None:
            if shiboken6.isValid(self) and self.topic is not None and self.topic.ref.account_id == account_id:
                self.account = account
                self._show_account()

        spawn(self._engine.accounts.get(account_id), on_done=show,
              on_error=lambda exc: log.warning("account %s: %s", account_id, exc))

    def _show_account(self) -> None:
        account = self.account if self.topic is not None else None
        if account is None:
            self.account_label.setText("")
            return
        self.account_label.setText(
            self.tr("as {0} · {1}").replace("{0}", account.display_name)
            .replace("{1}", platform_label(account.platform)))

    def _show_empty(self) -> None:
        self.retranslate()
        self.subtitle.setText("")
        self.account = None
        self._show_account()
        self.list.hide()
        self.reply_box.hide()
        self.placeholder.show()

    def _ask_login(self) -> None:
        if self.topic is not None:
            self.login_requested.emit(self.topic.ref.account_id)

    def _read_account_state(self, account_id: str) -> None:
        def show(account) -> None:
            if account is not None and self.topic is not None and self.topic.ref.account_id == account_id:
                self.reply_box.show_account_state(account.login_status)

        spawn(self._engine.accounts.get(account_id), on_done=show)

    def _on_account_status(self, event: AccountStatusChanged) -> None:
        # Read the stored state: the pool's monitor events may carry the state it started with.
        if self.topic is not None and event.account_id == self.topic.ref.account_id:
            self._read_account_state(event.account_id)

    def _note_unseen(self, messages: list[Message]) -> None:
        self._unseen.update(m.id for m in messages if m.direction == "in" and not m.is_read)
        if self._unseen and self.is_seen():
            self._mark_read_timer.start()

    def _on_focus_window_changed(self, _window) -> None:
        # Another window became active: if it is ours again, what arrived meanwhile is now in
        # front of the operator (mark_read checks, once the activation has settled).
        if self._unseen:
            self._mark_read_timer.start()

    def _report(self, exc: BaseException) -> None:
        log.warning("chat action failed: %s", exc)
        self.reply_box.show_error(reply_refusal(exc))
