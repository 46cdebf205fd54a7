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
each of its dozen processes again), and how many messages are stored.

At the end it fits a line through the samples taken after the warm-up (`--warmup` minutes,
default 60: caches, the database's page cache and Chromium's first allocations grow at
first) and prints the growth per hour of each, beside the goal (< 5 MB/h each). A leak shows
as a steady slope; recycling (an awake context is reopened every CONTEXT_RECYCLE_S,
monitor.py) shows as a saw-tooth around a flat line. `--recycle-minutes` changes that period
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


async def run(args: argparse.Namespace) -> None:
    if args.recycle_minutes:
        monitor.CONTEXT_RECYCLE_S = args.recycle_minutes * 60
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
        print(f"{'min':>6} {'engine MB':>10} {'Chromium RSS':>13} {'PSS':>7} {'stored':>8} {'restarts':>8}  states")
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
                  f"{sum(a.restarts for a in status.accounts):8d}  "
                  + ", ".join(f"{n} {s}" for s, n in sorted(states.items())), flush=True)
            await asyncio.sleep(args.sample)
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
        [("Chromium PSS", browser_pss)] if browser_pss else [])
    for name, samples in series:
        after = [s for s in samples if s[0] >= warm]
        slope = slope_per_hour(after)
        figure = f"{slope:+.1f} MB/h over {len(after)} samples" if slope is not None else "too few samples"
        print(f"  {name}: {figure}; {samples[0][1]:.0f} MB at the start, {samples[-1][1]:.0f} MB at the end")


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
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
