"""LoopWork: what the event loop's thread spent its CPU on, turn by turn, for the benchmarks.

A stall measured by a heartbeat (datastore.StallMeter) is wall-clock time: on a machine
busy with other work it counts the time the process waited for a CPU. LoopWork measures the
loop's own work instead, in CPU time of the loop's thread (time.thread_time: neither the
other threads nor the other processes count), and says where it went:

- every callback the loop runs (an asyncio.Handle, a task's step included) is timed: the
  longest one and the total;
- every turn of the loop (one `_run_once`: the ready callbacks run one after the other, and
  a heartbeat only between two turns) is timed, and the slowest turns are kept with their
  CPU per kind of callback (a task's coroutine, a plain callback's function), so a turn of
  250 small writer steps is told from one long step;
- while a turn has run longer than SAMPLE_AFTER_S, a watchdog thread samples the loop
  thread's stack (sys._current_frames) every SAMPLE_EVERY_S, so a long step says which
  code it was in.

A Python garbage collection runs inside whatever callback allocated last: its CPU is that
callback's, and a turn also says how much of its CPU went to collections (gc.callbacks).
"""
from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
from asyncio import events
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SAMPLE_AFTER_S = 0.01  # a turn this long (wall clock) gets its stack sampled...
SAMPLE_EVERY_S = 0.002  # ...this often
KEPT_TURNS = 5
STACK_DEPTH = 6  # innermost frames kept per sample


@dataclass
class Turn:
    cpu_s: float
    callbacks: int
    gc_s: float = 0.0  # of cpu_s, in garbage collections
    by_kind: Counter = field(default_factory=Counter)  # kind -> CPU s
    stacks: Counter = field(default_factory=Counter)  # sampled stack -> samples


class LoopWork:
    def __init__(self) -> None:
        self.longest_s = 0.0  # the longest single callback
        self.total_s = 0.0
        self.turns: list[Turn] = []  # the KEPT_TURNS slowest, slowest first
        self._turn: Turn | None = None
        self._turn_since = 0.0  # perf_counter when the running turn began (0: between turns)
        self._stop = threading.Event()
        self._saved: tuple[Any, Any] | None = None
        self._gc_started = 0.0
        self._loop_thread = 0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        meter, handle_run, turn_run = self, events.Handle._run, loop._run_once  # type: ignore[attr-defined]

        def timed_handle(handle: Any) -> None:
            started = time.thread_time()
            try:
                handle_run(handle)
            finally:
                spent = time.thread_time() - started
                meter.total_s += spent
                meter.longest_s = max(meter.longest_s, spent)
                turn = meter._turn
                if turn is not None:
                    turn.callbacks += 1
                    turn.by_kind[_kind(handle)] += spent

        def timed_turn() -> None:
            turn = meter._turn = Turn(0.0, 0)
            started = time.thread_time()
            meter._turn_since = time.perf_counter()
            try:
                turn_run()
            finally:
                meter._turn_since = 0.0
                turn.cpu_s = time.thread_time() - started
                meter._keep(turn)

        events.Handle._run = timed_handle
        loop._run_once = timed_turn  # type: ignore[attr-defined]
        self._saved = (handle_run, loop)
        gc.callbacks.append(self._collection)
        self._loop_thread = threading.get_ident()
        threading.Thread(target=self._sample, args=(self._loop_thread,), daemon=True,
                         name="loopwork-sampler").start()

    def stop(self) -> None:
        self._stop.set()
        if self._collection in gc.callbacks:
            gc.callbacks.remove(self._collection)
        if self._saved is not None:
            handle_run, loop = self._saved
            events.Handle._run = handle_run
            del loop._run_once  # the class's again
            self._saved = None

    def _collection(self, phase: str, info: dict) -> None:
        """A collection in the loop's thread: its CPU counted in the running turn's."""
        if threading.get_ident() != self._loop_thread:
            return
        if phase == "start":
            self._gc_started = time.thread_time()
        elif self._turn is not None and self._turn_since:
            self._turn.gc_s += time.thread_time() - self._gc_started

    def _keep(self, turn: Turn) -> None:
        if len(self.turns) < KEPT_TURNS or turn.cpu_s > self.turns[-1].cpu_s:
            self.turns.append(turn)
            self.turns.sort(key=lambda t: -t.cpu_s)
            del self.turns[KEPT_TURNS:]

    def _sample(self, loop_thread: int) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            since, turn = self._turn_since, self._turn
            if not since or turn is None or time.perf_counter() - since < SAMPLE_AFTER_S:
                continue
            frame = sys._current_frames().get(loop_thread)
            if frame is not None and self._turn is turn:
                turn.stacks[_stack(frame)] += 1

    def report(self, indent: str = "   ") -> None:
        """The slowest turns: CPU, callbacks, the kinds that took most, the stacks sampled most."""
        print(f"{indent}longest loop callback {self.longest_s * 1000:.1f} ms CPU; slowest loop turns (CPU of the loop's thread):")
        for turn in self.turns:
            kinds = ", ".join(f"{k} {s * 1000:.1f}" for k, s in turn.by_kind.most_common(3))
            print(f"{indent}  {turn.cpu_s * 1000:6.1f} ms (collections {turn.gc_s * 1000:.1f}), "
                  f"{turn.callbacks} callbacks: {kinds}")
            for stack, n in turn.stacks.most_common(2):
                print(f"{indent}      {n} samples: {stack}")


def _kind(handle: Any) -> str:
    """What a callback is: a task's coroutine, or the function called."""
    callback = handle._callback
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        return f"task {getattr(coro, '__qualname__', type(coro).__name__)}"
    return getattr(callback, "__qualname__", type(callback).__name__)


def _stack(frame: Any) -> str:
    parts = []
    while frame is not None and len(parts) < STACK_DEPTH:
        code = frame.f_code
        parts.append(f"{os.path.basename(code.co_filename)}:{code.co_name}:{frame.f_lineno}")
        frame = frame.f_back
    return " < ".join(parts)
