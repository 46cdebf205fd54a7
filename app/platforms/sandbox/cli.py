"""`hiscrm sandbox ...`: run the sandbox site on its own, or send it audience traffic.

    hiscrm sandbox serve [--port P] [--world FILE]
    hiscrm sandbox inject --url URL --comments-per-s X --dms-per-s Y --duration S [--creator NAME]

`add_commands` puts these subcommands on the `hiscrm sandbox` parser itself, so
`hiscrm sandbox --help` lists them; the site and the client are imported only when a command
runs, so building the parser costs `hiscrm` nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path


def add_commands(parser: argparse.ArgumentParser) -> None:
    """The sandbox subcommands, on `parser` (the `hiscrm sandbox` parser)."""
    sub = parser.add_subparsers(dest="sandbox_command", required=True, metavar="{serve,inject}")
    serve = sub.add_parser("serve", help="run the sandbox site until Ctrl+C")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    serve.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    serve.add_argument("--world", type=Path, help="keep the site's state in this JSON file across runs")
    inject = sub.add_parser("inject", help="send simulated comments and DMs to a running site")
    inject.add_argument("--url", required=True, help="the site's base URL, e.g. http://127.0.0.1:8765")
    inject.add_argument("--comments-per-s", type=float, default=1.0)
    inject.add_argument("--dms-per-s", type=float, default=0.5)
    inject.add_argument("--duration", type=float, default=10.0, help="seconds")
    inject.add_argument("--creator", help="only this creator of the site (default: any)")


def run(args: argparse.Namespace) -> int:
    """Run the parsed subcommand; returns the exit code."""
    if args.sandbox_command == "serve":
        return asyncio.run(_serve(args.host, args.port, args.world))
    if args.comments_per_s < 0 or args.dms_per_s < 0 or args.duration <= 0:
        print("hiscrm sandbox: rates must be >= 0 and --duration > 0", file=sys.stderr)
        return 2
    return asyncio.run(_inject(args.url, args.comments_per_s, args.dms_per_s, args.duration, args.creator))


async def _serve(host: str, port: int, world: Path | None) -> int:
    from .site import SandboxSite

    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: the sandbox site and its control API will be reachable on {host}", file=sys.stderr)
    site = SandboxSite(host=host, port=port, world_file=world)
    try:
        url = await site.start()
    except OSError as exc:
        print(f"hiscrm sandbox: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    print(f"sandbox site: {url}  (log in at {url}/login, control API at {url}/_control/state)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl+C raises instead
            pass
    try:
        await stop.wait()
    finally:
        await site.stop()
    return 0


async def _inject(url: str, comments_per_s: float, dms_per_s: float, duration: float, creator: str | None) -> int:
    from .control_client import SandboxControl, SandboxControlError
    from .simulator import Arrival, AudienceSimulator

    async with SandboxControl(url) as control:
        try:
            names = await control.creator_names()
        except SandboxControlError as exc:
            print(f"hiscrm sandbox: {exc}", file=sys.stderr)
            return 1
        if not names:
            print("hiscrm sandbox: the site has no creators yet; log in to it once first", file=sys.stderr)
            return 1
        if creator is not None and creator not in names:
            print(f"hiscrm sandbox: the site has no creator {creator!r}; its creators: "
                  f"{', '.join(names)}", file=sys.stderr)
            return 1

        async def inject(arrival: Arrival) -> None:
            if arrival.kind == "comment":
                await control.inject_comment(arrival.author, arrival.text, creator=creator, as_reply=arrival.as_reply)
            else:
                await control.inject_dm(arrival.author, arrival.text, creator=creator)

        simulator = AudienceSimulator(inject, comments_per_s=comments_per_s, dms_per_s=dms_per_s)
        stats = await simulator.run(duration)
    print(f"injected {stats.comments} comments and {stats.dms} DMs in {duration:g} s ({stats.errors} failed)")
    return 0 if stats.errors == 0 else 1
