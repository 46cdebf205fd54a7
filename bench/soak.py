"""Soak benchmark: does memory stay flat on awake accounts over hours of traffic?

    .venv/bin/python bench/soak.py                                   # 4 accounts, 2 hours
    .venv/bin/python bench/soak.py --minutes 8 --warmup 2 --sample 30 --recycle-minutes 3   # a short run

It builds the real Engine (SQLite in a temporary HISCRM_HOME, default settings) against a
sandbox site run in a process of its own (`hiscrm sandbox serve`: the simulated platform keeps
every comment and DM in memory, which is not the engine's growth), logs `--accounts` sandbox
accounts in through the QR flow (the sandbox's control API plays the
phone), keeps them awake the way an operator watching them does (wakes them every sample),
and runs the sandbox's audience simulator at `--comments-per-s` + `--dms-per-s` across them
for the whole run. Every `--sample` seconds it prints the resident memory (RSS) of the engine
process and of the Chromium process tree (also its PSS, on Linux: shared pages divided among
the processes, which is what the tree really costs; its RSS counts the shared libraries of
each of its dozen processes again), how many messages are stored and the load average. Below
that, the attribution: the tree's USS (private memory, what a leak grows; PSS also moves with
other programs' Chromiums on the machine, see `chromium_roles`), PSS/USS per process role
(browser, renderer, gpu-process, utility:<sub-type>, zygote), each renderer's age and USS, and
the Playwright connection's objects by type. `--tracemalloc` also traces the engine's Python
allocations and prints what grew between the end of the warm-up and the end (the traces
cost memory of their own: the engine's RSS figures of such a run are not comparable).

At the end it fits a line through the samples taken after the warm-up (`--warmup` minutes,
default 60: caches, the database's page cache and Chromium's first allocations grow at
first) and prints the growth per hour of each, beside the goal (< 5 MB/h each). A leak shows
as a steady slope; recycling (an awake context is reopened every CONTEXT_RECYCLE_S,
monitor.py) shows as a saw-tooth around a flat line, so it also fits a line through the
lowest sample of each recycle period: the floor the recycles come back to, which a leak
raises. `--recycle-minutes` changes that period
for the run, so a short run sees recycles too (recycling after CONTEXT_RECYCLE_REQUESTS
requests stays on). Nothing is asserted. See bench/README.md.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from sqlalchemy import func, select  # noqa: E402

from app.engine.engine import Engine  # noqa: E402
from app.engine.events import LoginProgress  # noqa: E402
from app.engine.logs import setup_logging  # noqa: E402
from app.engine.paths import app_paths  # noqa: E402
from app.engine.pool import monitor  # noqa: E402
from app.engine.settings import Settings  # noqa: E402
from app.engine.store.models import Comment, DirectMessage  # noqa: E402

GOAL_MB_PER_HOUR = 5.0
TRACEMALLOC_FRAMES = 8  # enough to see which caller of a library keeps the memory
TRACEMALLOC_TOP = 15


def chromium_roles(
    browser_pids: tuple[int, ...],
) -> tuple[dict[str, tuple[int, float, float]], list[tuple[float, float]]]:
    """Process count, PSS and USS (MB) of each role in the Chromium trees: the browser process,
    `renderer`, `gpu-process`, `utility:<sub-type>` (network, storage, audio...), `zygote`,
    so a growth is attributed to the process that holds it; and each renderer's age (minutes)
    and USS, which tells a renderer that outlives the recycles from fresh ones. Blocking: call
    it off the loop.

    USS (the process's private pages) is what a leak grows. PSS also splits the shared pages
    (Chromium's code, fonts) among every process on the machine that maps them, so it moves
    when another program's Chromium starts or ends: on a shared machine the browser's PSS
    jumped by 40 MB with nothing changed in it."""
    roles: dict[str, list[float]] = {}
    renderers: list[tuple[float, float]] = []
    for pid in browser_pids:
        try:
            root = psutil.Process(pid)
            procs = [root] + root.children(recursive=True)
        except psutil.Error:
            continue
        for proc in procs:
            try:
                role = process_role(proc.cmdline())
                info = proc.memory_full_info()
                pss, uss = info.pss / 2**20, info.uss / 2**20
            except (psutil.Error, AttributeError):
                continue  # exited meanwhile, or no PSS on this system
            entry = roles.setdefault(role, [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += pss
            entry[2] += uss
            if role == "renderer":
                renderers.append(((time.time() - proc.create_time()) / 60, uss))
    return ({role: (int(n), pss, uss) for role, (n, pss, uss) in sorted(roles.items())},
            sorted(renderers, reverse=True))


def process_role(cmdline: list[str]) -> str:
    """A Chromium process's role from its command line (`--type=`, `--utility-sub-type=`)."""
    options = dict(arg[2:].split("=", 1) for arg in cmdline if arg.startswith("--") and "=" in arg)
    role = options.get("type", "browser")
    if role == "utility":
        sub = options.get("utility-sub-type", "")
        role = "utility:" + (sub.split(".")[0] or "?")  # network.mojom.NetworkService -> network
    return role


def playwright_objects(engine: Engine) -> Counter[str]:
    """The driver connection's live objects by type (Request, Response, JSHandle, Page...):
    each is held in the engine's process until its page or context closes."""
    playwright = engine.pool._host._playwright  # a benchmark looks inside
    if playwright is None:
        return Counter()
    objects = playwright._impl_obj._connection._objects
    return Counter(type(o).__name__ for o in list(objects.values()))


def print_tracemalloc_growth(first: tracemalloc.Snapshot, last: tracemalloc.Snapshot) -> None:
    """What the engine allocated between the end of the warm-up and the end: by file, then by
    call site (the innermost frames)."""
    keep = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap*")]
    first, last = first.filter_traces(keep), last.filter_traces(keep)
    by_file = last.compare_to(first, "filename")
    total = sum(d.size_diff for d in by_file) / 2**20
    print(f"\ntraced Python memory grew {total:+.1f} MB after the warm-up; by file:")
    for stat in by_file[:TRACEMALLOC_TOP]:
        print(f"  {stat.size_diff / 2**20:+7.2f} MB {stat.count_diff:+8d} blocks  {stat.traceback[0].filename}")
    print("by call site:")
    for stat in last.compare_to(first, "traceback")[:TRACEMALLOC_TOP]:
        frames = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in stat.traceback[:TRACEMALLOC_FRAMES])
        print(f"  {stat.size_diff / 2**20:+7.2f} MB {stat.count_diff:+8d} blocks  {frames}")


async def login(engine: Engine, control, creator: str, qr_urls: dict[str, str], finished: dict[str, str]) -> str:
    account_id = await engine.accounts.create("sandbox", creator)
    session_id = await engine.logins.start(account_id)
    while session_id not in qr_urls:
        await asyncio.sleep(0.05)
    token = parse_qs(urlparse(qr_urls[session_id]).query)["token"][0]
    await control.confirm(token, creator)
    while session_id not in finished:
        await asyncio.sleep(0.05)
    if finished[session_id] != "success":
        raise RuntimeError(f"login of {creator} ended {finished[session_id]}")
    return account_id


async def stored_messages(engine: Engine) -> int:
    def count(s) -> int:
        return (s.scalar(select(func.count()).select_from(Comment))
                + s.scalar(select(func.count()).select_from(DirectMessage)))

    return await engine.db.read(count)


def slope_per_hour(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) samples, in MB per hour."""
    if len(samples) < 2:
        return None
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    if spread == 0:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in samples) / spread * 3600


def floors(samples: list[tuple[float, float]], period_s: float) -> list[tuple[float, float]]:
    """The lowest sample of each `period_s` window: recycling draws a saw-tooth whose teeth a
    line through every sample reads as growth or shrinkage by where the run happens to end;
    what a leak raises is the floor the recycles return to."""
    windows: dict[int, tuple[float, float]] = {}
    for t, v in samples:
        key = int(t // period_s)
        if key not in windows or v < windows[key][1]:
            windows[key] = (t, v)
    return [windows[k] for k in sorted(windows)]


async def run(args: argparse.Namespace) -> None:
    if args.recycle_minutes:
        monitor.CONTEXT_RECYCLE_S = args.recycle_minutes * 60
    if args.tracemalloc:
        tracemalloc.start(TRACEMALLOC_FRAMES)
    home = Path(tempfile.mkdtemp(prefix="hiscrm-bench-soak-"))
    os.environ["HISCRM_HOME"] = str(home)
    paths = app_paths(home).ensure()
    setup_logging(paths.log_dir, verbose=False)
    settings = Settings(max_active_pages=max(args.accounts, Settings().max_active_pages))
    site = subprocess.Popen(
        [sys.executable, "-m", "app", "--home", str(home / "site"), "sandbox", "serve", "--port", "0",
         "--world", str(home / "site" / "world.json")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    site_url = site.stdout.readline().split()[2]  # "sandbox site: http://127.0.0.1:PORT"
    # The site above, not one inside the engine's process; no demo audience of its own.
    settings.platforms["sandbox"] = {"site_url": site_url, "demo_traffic": False}
    engine = Engine.create(paths, settings)
    await engine.start()
    control = engine.platforms.get("sandbox").control
    qr_urls: dict[str, str] = {}
    finished: dict[str, str] = {}

    def progress(event: LoginProgress) -> None:
        if event.state == "qr_ready":
            qr_urls[event.session_id] = event.qr_url
        elif event.state in ("success", "failed", "timeout", "expired", "cancelled"):
            finished[event.session_id] = event.state

    engine.bus.subscribe(LoginProgress, progress)
    me = psutil.Process()
    creators = [f"soak-creator-{n:02d}" for n in range(args.accounts)]
    print(f"soak: {args.accounts} awake accounts, {args.comments_per_s:g} comments/s + {args.dms_per_s:g} DMs/s, "
          f"{args.minutes:g} min, a sample every {args.sample:g} s, warm-up {args.warmup:g} min, "
          f"contexts recycled every {monitor.CONTEXT_RECYCLE_S / 60:g} min; data in {home}")
    try:
        accounts = [await login(engine, control, c, qr_urls, finished) for c in creators]
        await control.start_simulator(comments_per_s=args.comments_per_s, dms_per_s=args.dms_per_s,
                                      creators=creators, duration_s=args.minutes * 60 + 60)
        started = time.monotonic()
        engine_mb: list[tuple[float, float]] = []
        browser_mb: list[tuple[float, float]] = []
        browser_pss: list[tuple[float, float]] = []
        role_uss: dict[str, list[tuple[float, float]]] = {}
        browser_uss: list[tuple[float, float]] = []
        warm_snapshot: tracemalloc.Snapshot | None = None
        print(f"{'min':>6} {'engine MB':>10} {'Chromium RSS':>13} {'PSS':>7} {'stored':>8} {'restarts':>8} {'load':>5}  states")
        while (elapsed := time.monotonic() - started) < args.minutes * 60:
            for account_id in accounts:
                await engine.pool.wake(account_id)  # the operator keeps watching them
            memory = await engine.pool.sample_memory()
            rss = me.memory_info().rss / 2**20
            engine_mb.append((elapsed, rss))
            browser_mb.append((elapsed, memory.rss_mb or 0.0))
            if memory.pss_mb is not None:
                browser_pss.append((elapsed, memory.pss_mb))
            status = engine.pool.status()
            states: dict[str, int] = {}
            for account in status.accounts:
                states[account.state] = states.get(account.state, 0) + 1
            print(f"{elapsed / 60:6.1f} {rss:10.1f} {memory.rss_mb or 0:13.1f} {memory.pss_mb or 0:7.1f} "
                  f"{await stored_messages(engine):8d} "
                  f"{sum(a.restarts for a in status.accounts):8d} {os.getloadavg()[0]:5.1f}  "
                  + ", ".join(f"{n} {s}" for s, n in sorted(states.items())), flush=True)
            roles, renderers = await asyncio.to_thread(chromium_roles, memory.browser_pids)
            for role, (_, _, uss) in roles.items():
                role_uss.setdefault(role, []).append((elapsed, uss))
            browser_uss.append((elapsed, sum(uss for _, _, uss in roles.values())))
            print("       renderers (age min/USS MB): " + ", ".join(f"{age:.0f}/{mb:.0f}" for age, mb in renderers))
            objects = playwright_objects(engine)
            print(f"       Chromium USS {browser_uss[-1][1]:.0f}; PSS/USS by role: " + ", ".join(
                f"{role} {pss:.0f}/{uss:.0f}" + (f" ({n})" if n > 1 else "") for role, (n, pss, uss) in roles.items()))
            print(f"       Playwright objects: {sum(objects.values())} ("
                  + ", ".join(f"{name} {n}" for name, n in objects.most_common(6)) + ")", flush=True)
            if args.tracemalloc and warm_snapshot is None and elapsed >= args.warmup * 60:
                warm_snapshot = tracemalloc.take_snapshot()
            await asyncio.sleep(args.sample)
        last_snapshot = tracemalloc.take_snapshot() if warm_snapshot is not None else None
    finally:
        try:
            await control.stop_simulator()
        except Exception:  # noqa: BLE001 - the site may be gone already
            pass
        await engine.stop()
        site.terminate()
        site.wait(15)
    warm = args.warmup * 60
    print(f"\ngrowth after the first {args.warmup:g} min (goal < {GOAL_MB_PER_HOUR:g} MB/h each):")
    series = [("engine RSS", engine_mb), ("Chromium RSS", browser_mb)] + (
        [("Chromium PSS", browser_pss)] if browser_pss else []) + [("Chromium USS", browser_uss)] + [
        (f"  {role} USS", samples) for role, samples in role_uss.items()]
    for name, samples in series:
        after = [s for s in samples if s[0] >= warm]
        slope = slope_per_hour(after)
        figure = f"{slope:+.1f} MB/h over {len(after)} samples" if slope is not None else "too few samples"
        print(f"  {name}: {figure}; {samples[0][1]:.0f} MB at the start, {samples[-1][1]:.0f} MB at the end")
    period = monitor.CONTEXT_RECYCLE_S
    for name, samples in [("engine RSS", engine_mb), ("Chromium USS", browser_uss)]:
        lows = floors([s for s in samples if s[0] >= warm], period)
        slope = slope_per_hour(lows)
        figure = f"{slope:+.1f} MB/h" if slope is not None else "too few periods"
        print(f"  {name}, lowest sample of each {period / 60:g} min recycle period: {figure} ("
              + ", ".join(f"{v:.0f}" for _, v in lows) + " MB)")
    if warm_snapshot is not None and last_snapshot is not None:
        print_tracemalloc_growth(warm_snapshot, last_snapshot)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=4, help="awake sandbox accounts")
    parser.add_argument("--minutes", type=float, default=120.0, help="length of the run")
    parser.add_argument("--warmup", type=float, default=60.0, help="minutes left out of the growth figure")
    parser.add_argument("--sample", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--comments-per-s", type=float, default=2.5)
    parser.add_argument("--dms-per-s", type=float, default=2.5)
    parser.add_argument("--recycle-minutes", type=float, default=0.0,
                        help="recycle awake contexts this often instead (0: the engine's own period)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="trace the engine's Python allocations; print what grew after the warm-up")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
