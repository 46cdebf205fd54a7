"""An in-process publish/subscribe bus for engine events.

Publishing never blocks the publisher: each subscriber is called from the event loop soon after
(`call_soon`), coroutine subscribers run as tasks that the bus keeps referenced, and an
exception in one subscriber is logged without affecting the others.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from collections import defaultdict
from typing import Any, Callable, TypeVar

from .events import Event

log = logging.getLogger(__name__)
E = TypeVar("E", bound=Event)
Handler = Callable[[Any], Any]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Handler]] = defaultdict(list)
        self._tasks: set[asyncio.Task[Any]] = set()

    def subscribe(self, event_type: type[E], handler: Callable[[E], Any]) -> Callable[[], None]:
        """Call `handler(event)` for every event of this type (or a subclass); returns an
        unsubscribe function."""
        self._handlers[event_type].append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers[event_type]:
                self._handlers[event_type].remove(handler)

        return unsubscribe

    def publish(self, event: Event) -> None:
        """Deliver `event` to its subscribers on the running loop (thread-safe)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        for event_type, handlers in list(self._handlers.items()):
            if not isinstance(event, event_type):
                continue
            for handler in list(handlers):
                if loop is None:
                    self._call(handler, event)
                else:
                    loop.call_soon(self._call, handler, event)

    def publish_threadsafe(self, loop: asyncio.AbstractEventLoop, event: Event) -> None:
        """Publish from another thread (e.g. a database executor) onto `loop`."""
        loop.call_soon_threadsafe(self.publish, event)

    def _call(self, handler: Handler, event: Event) -> None:
        try:
            result = handler(event)
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._task_done)
        except Exception:
            log.exception("event handler %r failed on %r", handler, event)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("event handler task failed", exc_info=task.exception())
