"""Browsers yield the CPU to the console.

Chromium's renderers can keep every core busy (a login page, a burst of pushes, a crawl of
many works); the console's event loop, which is also the window's, then waits for a core
and the window stutters although our own code is idle (bench/pool.py shows stalls of
hundreds of ms with the loop's thread using almost no CPU). Browser work is background work,
so the browser's processes run at a lower priority: niceness +10 on Linux and macOS, "below
normal" on Windows. Processes Chromium starts later (renderers, forked from its zygote or
created by the browser) inherit the priority.
"""
from __future__ import annotations

import logging
import os
import sys

import psutil

from .status import is_chromium

log = logging.getLogger(__name__)

BACKGROUND_NICENESS = 10


def lower_browser_priority() -> int:
    """Lower the priority of every Chromium process this process started (blocking: call
    it off the event loop); returns how many were changed."""
    try:
        children = psutil.Process(os.getpid()).children(recursive=True)
    except psutil.Error as exc:
        log.debug("cannot list child processes: %s", exc)
        return 0
    changed = 0
    for proc in children:
        try:
            if not is_chromium(proc):
                continue
            if sys.platform == "win32":
                if proc.nice() != psutil.BELOW_NORMAL_PRIORITY_CLASS:
                    proc.nice(psutil.BELOW_NORMAL_PRIORITY_CLASS)
                    changed += 1
            elif proc.nice() < BACKGROUND_NICENESS:
                proc.nice(BACKGROUND_NICENESS)
                changed += 1
        except psutil.Error:
            continue  # exited meanwhile, or not ours to change
    return changed
