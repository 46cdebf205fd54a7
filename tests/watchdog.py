"""When a test is about to hit its pytest-timeout, print what every asyncio task awaits.

pytest-timeout dumps the threads, but an asyncio test that hangs shows only its event loop
idling in `select()`. Three seconds before the timeout, this plugin finds the loop the main
thread is running and prints each task's chain of awaits (coroutine by coroutine, down to the
future it waits for), which names the call that never returned.

pytest-timeout raises its failure in whatever Python code runs when the time is up; inside an
event loop callback the loop catches and logs it, and the test would hang on. So when a test
still runs a few seconds after its timeout, the plugin cancels its loop's tasks, which ends it.
"""
from __future__ import annotations

import asyncio
import sys
import threading

import pytest

WARN_BEFORE_S = 3.0
CANCEL_AFTER_S = 5.0


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    timers = []
    seconds = _timeout_of(item)
    if seconds and seconds > 2 * WARN_BEFORE_S:
        main = threading.main_thread().ident
        timers = [
            threading.Timer(seconds - WARN_BEFORE_S, _in_loop, args=(main, _dump_tasks, item.nodeid)),
            threading.Timer(seconds + CANCEL_AFTER_S, _in_loop, args=(main, _cancel_tasks, item.nodeid)),
        ]
        for timer in timers:
            timer.daemon = True
            timer.start()
    try:
        return (yield)
    finally:
        for timer in timers:
            timer.cancel()


def _timeout_of(item) -> float | None:
    marker = item.get_closest_marker("timeout")
    if marker and marker.args:
        return float(marker.args[0])
    value = item.config.getini("timeout")
    return float(value) if value else None


def _in_loop(thread_id: int, callback, nodeid: str) -> None:
    loop = _running_loop_of(thread_id)
    if loop is not None and not loop.is_closed():
        loop.call_soon_threadsafe(callback, nodeid)


def _running_loop_of(thread_id: int) -> asyncio.AbstractEventLoop | None:
    """The event loop whose `run_forever` is on the thread's stack, if any."""
    frame = sys._current_frames().get(thread_id)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, asyncio.AbstractEventLoop):
            return candidate
        frame = frame.f_back
    return None


def _dump_tasks(nodeid: str) -> None:
    out = sys.stderr
    print(f"\n~~~~ asyncio tasks of {nodeid}, {WARN_BEFORE_S:g} s before its timeout ~~~~", file=out)
    for task in asyncio.all_tasks():
        print(f"-- {task.get_name()}", file=out)
        for line in _await_chain(task.get_coro()):
            print(f"   {line}", file=out)
    out.flush()


def _cancel_tasks(nodeid: str) -> None:
    print(f"\n~~~~ {nodeid} outlived its timeout: cancelling its asyncio tasks ~~~~", file=sys.stderr)
    for task in asyncio.all_tasks():
        task.cancel()


def _await_chain(awaitable) -> list[str]:
    """Where each coroutine in the chain is suspended, outermost first."""
    lines = []
    while awaitable is not None:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None) \
            or getattr(awaitable, "ag_frame", None)
        if frame is None:
            lines.append(f"waits for {awaitable!r}"[:300])
            break
        lines.append(f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None) \
            or getattr(awaitable, "ag_await", None)
    return lines
