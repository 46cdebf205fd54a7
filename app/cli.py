"""The `hiscrm` command: the console (default), the headless engine, and admin tools.

    hiscrm                 the desktop console (headless engine when there is no display)
    hiscrm serve           the engine without a window
    hiscrm --version       the installed version
    hiscrm db upgrade      create or migrate the database
    hiscrm db import F...  import account snapshots of the original system
    hiscrm db export ID    write an account as a snapshot in the original format
    hiscrm sandbox ...     run the sandbox site / inject audience traffic
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path

from .engine.paths import app_paths
from .engine.settings import SettingsError, load_settings

log = logging.getLogger("hiscrm")
DISTRIBUTION = "hiscrm-console"


def has_display() -> bool:
    """Whether a window can be shown: always on Windows/macOS, on Linux with X11/Wayland or
    an explicit Qt platform plugin (offscreen is what tests use)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hiscrm", description="HisCRM Console")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    parser.add_argument("--home", help="keep config, data and logs under this folder (else $HISCRM_HOME)")
    parser.add_argument("--database-url", help="override the database URL for this run")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("gui", help="the desktop console (default)")
    serve = sub.add_parser("serve", help="run the engine headless")
    serve.add_argument("--no-browsers", action="store_true", help="do not start the browser pool")
    db = sub.add_parser("db", help="database administration")
    db_actions = db.add_subparsers(dest="action", required=True)
    db_actions.add_parser("upgrade", help="create or migrate the database")
    db_import = db_actions.add_parser(
        "import", help="import account snapshots of the original system (JSON, PROTOCOL.md §7)")
    db_import.add_argument("files", nargs="+", type=Path, metavar="FILE")
    db_export = db_actions.add_parser("export", help="write one account as a snapshot in the original format")
    db_export.add_argument("account_id")
    db_export.add_argument("-o", "--output", type=Path, help="the JSON file (default: standard output)")
    sandbox = sub.add_parser("sandbox", help="the sandbox platform's site and audience simulator")
    sandbox.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def package_version() -> str:
    """The installed distribution's version; a checkout run without `pip install` (or a
    frozen build whose spec wrote no metadata) reads it from pyproject.toml beside the code."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        pass
    import tomllib

    try:
        with open(Path(__file__).resolve().parents[1] / "pyproject.toml", "rb") as file:
            return str(tomllib.load(file)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    paths = app_paths(args.home).ensure()
    command = args.command or "gui"
    if command == "gui" and not has_display():
        print("hiscrm: no display found (DISPLAY/WAYLAND_DISPLAY unset); running the engine headless.")
        command = "serve"
    lock = None
    if command in ("gui", "serve"):
        from .bootstrap import HomeInUse, claim_home

        try:
            lock = claim_home(paths)  # before anything writes: logs, settings, the database
        except HomeInUse as exc:
            print(f"hiscrm: {exc}", file=sys.stderr)
            if command == "gui":
                from .ui.app import refuse_second_console

                refuse_second_console(paths, exc.pid)
            return 1
    try:
        return _run(command, args, paths)
    finally:
        if lock is not None:
            lock.release()


def _run(command: str, args: argparse.Namespace, paths) -> int:
    from .engine.logs import setup_logging

    setup_logging(paths.log_dir, verbose=args.verbose)
    if command == "sandbox":
        from .platforms.sandbox.cli import main as sandbox_main

        return sandbox_main(args.args)
    try:
        settings = load_settings(paths.settings_file)
    except SettingsError as exc:
        print(f"hiscrm: {exc}", file=sys.stderr)
        return 2
    if args.database_url:
        settings.database_url = args.database_url
    if command == "db":
        return asyncio.run(_db(args, settings.database_url or paths.default_database_url))
    if command == "gui":
        from .ui.app import run_gui

        return run_gui(paths, settings)
    from .bootstrap import serve

    return asyncio.run(serve(paths, settings, start_browsers=not getattr(args, "no_browsers", False)))


async def _db(args: argparse.Namespace, url: str) -> int:
    """`hiscrm db upgrade | import FILE... | export ACCOUNT`; problems are told, not traced."""
    from .engine.bus import EventBus
    from .engine.store.datastore import DataStore
    from .engine.store.db import Database, DatabaseError
    from .engine.store.snapshot import SnapshotError, export_snapshot, import_snapshot

    try:
        db = Database(url)
        await db.upgrade()
    except DatabaseError as exc:
        print(f"hiscrm: {exc}", file=sys.stderr)
        return 1
    try:
        if args.action == "upgrade":
            print(f"database is up to date: {Database.redacted(url)}")
            return 0
        if args.action == "export":
            document = await export_snapshot(db, args.account_id)
            text = json.dumps(document, ensure_ascii=False, indent=1)
            if args.output is None:
                print(text)
            else:
                args.output.write_text(text, encoding="utf-8")
            return 0
        status = 0
        store = DataStore(db, EventBus())
        for path in args.files:
            try:
                result = await import_snapshot(store, json.loads(path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError, SnapshotError) as exc:
                print(f"hiscrm: {path}: not imported: {exc}", file=sys.stderr)
                status = 1
                continue
            print(f"{path}: {result.accepted} records imported, {len(result.rejected)} rejected")
            for rejection in result.rejected[:10]:
                print(f"  rejected {rejection.kind}[{rejection.index}] {rejection.key or ''}: {rejection.reason}")
        return status
    except (DatabaseError, LookupError) as exc:
        print(f"hiscrm: {exc}", file=sys.stderr)
        return 1
    finally:
        await db.close()
