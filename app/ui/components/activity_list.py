"""A list of channels or topics that does not move under the operator's pointer.

Both lists re-sort as traffic arrives (newest activity first). A row that jumps away between
aiming and clicking makes the operator open, read or answer the wrong customer, so:
- while the pointer is over the list, or its context menu is open, the model holds its order
  (`KeyedListModel.hold`); rows still update in place (badges, previews);
- a "3 new ↑" button says that newer activity waits; clicking it, or leaving the list,
  applies the new order (the selection follows its row by identity: persistent indexes). It
  sits in a strip below the rows, made for it while it shows: over the rows it would hide what
  the operator is reading, and a strip above them would push every row down under the pointer;
- a right click opens the context menu only: it neither selects nor opens the row under it;
  nor does the list taking the keyboard focus (Qt's views make the first row current then,
  which would open and so mark read a topic nobody chose).
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QAbstractScrollArea, QListView, QMenu, QPushButton, QWidget

from ..models.keyed import KeyedListModel

STRIP_PADDING = 4  # px above and below the "new" button in its strip


class ActivityList(QListView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._hovered = False
        self._menu: QMenu | None = None
        self.waiting_button = QPushButton(self)
        self.waiting_button.setObjectName("newActivity")
        self.waiting_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.waiting_button.setStyleSheet(
            "QPushButton#newActivity { background: #3b82f6; color: white; border: none;"
            " border-radius: 10px; padding: 2px 10px; font-weight: bold; }")
        self.waiting_button.clicked.connect(self.show_waiting)
        self.waiting_button.hide()

    def setModel(self, model) -> None:  # noqa: N802 (Qt name)
        old = self.model()
        if isinstance(old, KeyedListModel):
            old.waiting_changed.disconnect(self._show_waiting_count)
        super().setModel(model)
        self._show_waiting_count(0)
        if isinstance(model, KeyedListModel):
            model.waiting_changed.connect(self._show_waiting_count)
            self._update_hold()

    # ---- Holding --------------------------------------------------------------------------
    def show_waiting(self) -> None:
        """Apply the order that waited and show its top (the newest activity)."""
        model = self.model()
        if isinstance(model, KeyedListModel) and model.held:
            model.hold(False)
            self.scrollToTop()
            self._update_hold()

    def popup_menu(self, menu: QMenu, pos: QPoint) -> None:
        """Show a context menu at `pos` (viewport coordinates); the order holds while it is open."""
        self._menu = menu
        menu.aboutToHide.connect(self._menu_closed)
        self._update_hold()
        menu.popup(self.viewport().mapToGlobal(pos))

    def _menu_closed(self) -> None:
        self._menu = None
        self._hovered = self.underMouse()
        self._update_hold()

    def _update_hold(self) -> None:
        model = self.model()
        held = self._hovered or self._menu is not None
        if isinstance(model, KeyedListModel) and model.held != held:
            model.hold(held)

    def _show_waiting_count(self, count: int) -> None:
        if count <= 0:
            self.waiting_button.hide()
            self.setViewportMargins(0, 0, 0, 0)
            return
        self.waiting_button.setText(self.tr("%n new ↑", "", count))
        self.waiting_button.adjustSize()
        self.setViewportMargins(0, 0, 0, self.waiting_button.height() + 2 * STRIP_PADDING)
        self._place_waiting_button()
        self.waiting_button.show()
        self.waiting_button.raise_()

    def _place_waiting_button(self) -> None:
        button = self.waiting_button
        bottom = self.height() - self.frameWidth() - STRIP_PADDING
        button.move((self.width() - button.width()) // 2, bottom - button.height())

    # ---- Events ---------------------------------------------------------------------------
    def enterEvent(self, event) -> None:  # noqa: N802
        self._hovered = True
        self._update_hold()
        super().enterEvent(event)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802
        self._hovered = False
        self._update_hold()
        super().leaveEvent(event)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == QEvent.Type.LanguageChange:
            model = self.model()
            if isinstance(model, KeyedListModel):
                self._show_waiting_count(model.waiting_count())
        super().changeEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._place_waiting_button()

    def focusInEvent(self, event) -> None:  # noqa: N802
        QAbstractScrollArea.focusInEvent(self, event)  # not QAbstractItemView's: no current row
        self.viewport().update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.RightButton:
            event.accept()  # the context menu follows; the current row stays as it is
            return
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.RightButton:
            event.accept()
            return
        super().mouseReleaseEvent(event)
