"""The `hiscrm` command: the console (default), the headless engine, and admin tools.

    hiscrm                 the desktop console (headless engine when there is no display)
    hiscrm serve           the engine without a window
    hiscrm --version       the installed version
    hiscrm db upgrade      create or migrate the database
    hiscrm db import F...  import account snapshots of the original system
    hiscrm db export ACCOUNT  write an account (its name or id) as a snapshot in the original format
    hiscrm db backup [FILE]   copy the SQLite database (online: the engine may be running)
    hiscrm sandbox ...     run the sandbox site / inject audience traffic
    hiscrm douyin check    check Douyin's creator pages against what the adapter expects

A problem the operator can fix (settings, folders, the database, the key file) is a
StartupError: one line on stderr and its exit code (2: fix the settings, 1: the rest), never a
traceback.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path

from .engine.errors import StartupError
from .engine.paths import app_paths
from .engine.settings import ServerSettings, SettingsError, load_settings

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
    serve.add_argument("--server", action="store_true",
                       help="also run the Socket.IO + REST server for IM clients and remote workers")
    serve.add_argument("--host", help="the server's address (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, help="the server's port (default 3000; 0: any free port)")
    serve.add_argument("--token", help="the token clients must present (default: the one generated and saved)")
    serve.add_argument("--redis", dest="redis_url", metavar="URL",
                       help="share IM clients with other servers on the same database (redis://host:port/0)")
    token = sub.add_parser("token", help="print the server's token (generated on first use)")
    token.add_argument("--renew", action="store_true", help="replace it: clients with the old one are refused")
    db = sub.add_parser("db", help="database administration")
    db_actions = db.add_subparsers(dest="action", required=True)
    db_actions.add_parser("upgrade", help="create or migrate the database")
    db_import = db_actions.add_parser(
        "import", help="import account snapshots of the original system (JSON, PROTOCOL.md §7)")
    db_import.add_argument("files", nargs="+", type=Path, metavar="FILE")
    db_export = db_actions.add_parser("export", help="write one account as a snapshot in the original format")
    db_export.add_argument("account", help="the account's name (as the console shows it) or its id")
    db_export.add_argument("-o", "--output", type=Path, help="the JSON file (default: standard output)")
    db_backup = db_actions.add_parser("backup", help="copy the SQLite database while it may be in use")
    db_backup.add_argument("file", nargs="?", type=Path,
                           help="the copy (default: a dated file in the backups folder beside the database)")
    from .platforms.sandbox.cli import add_commands as add_sandbox_commands

    add_sandbox_commands(sub.add_parser(
        "sandbox", help="the sandbox platform's site and audience simulator",
        description="the sandbox platform's site and audience simulator"))
    from .platforms.douyin.cli import add_commands as add_douyin_commands

    add_douyin_commands(sub.add_parser(
        "douyin", help="Douyin tools: the live self-check of the creator centre's pages",
        description="Douyin tools: the live self-check of the creator centre's pages"))
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
    try:
        return _main(args)
    except StartupError as exc:
        from .engine.logs import SHOWN

        log.error("%s", exc, extra=SHOWN)  # in the log file too, when it could be opened
        print(f"hiscrm: {exc}", file=sys.stderr)
        if (args.command or "gui") == "gui" and has_display():
            from .ui.app import show_startup_error

            show_startup_error(str(exc))
        return exc.exit_code


def _main(args: argparse.Namespace) -> int:
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

    log_file = setup_logging(paths.log_dir, verbose=args.verbose)
    if command == "sandbox":
        from .platforms.sandbox.cli import run as run_sandbox

        return run_sandbox(args)
    settings = load_settings(paths.settings_file)
    if args.database_url:
        settings.database_url = args.database_url
    if command == "db":
        return asyncio.run(_db(args, settings.database_url or paths.default_database_url))
    if command == "douyin":
        from .platforms.douyin.cli import run as run_douyin

        return run_douyin(args, paths, settings)
    if command == "gui":
        from .ui.app import run_gui

        return run_gui(paths, settings)
    if command == "token":
        return asyncio.run(_token(paths, settings, renew=args.renew))
    from .bootstrap import serve

    _server_flags(args, settings)
    return asyncio.run(serve(paths, settings, start_browsers=not getattr(args, "no_browsers", False),
                             log_file=log_file))


def _server_flags(args: argparse.Namespace, settings) -> None:
    """`serve --server --host --port --token --redis`: this run's server, over the settings (not saved)."""
    changes = {name: value for name in ("host", "port", "token", "redis_url")
               if (value := getattr(args, name, None)) is not None}
    if getattr(args, "server", False):
        changes["enabled"] = True
    if changes:
        try:
            settings.server = ServerSettings.model_validate({**settings.server.model_dump(), **changes})
        except ValueError as exc:
            raise SettingsError(f"bad server option: {exc}") from None


async def _token(paths, settings, *, renew: bool) -> int:
    """`hiscrm token [--renew]`: the token the server asks for, to paste into a client."""
    from .engine.secrets import SecretBox
    from .engine.server_token import ServerToken
    from .engine.store.db import Database

    db = Database(settings.database_url or paths.default_database_url)
    try:
        await db.upgrade()
        tokens = ServerToken(db, SecretBox.from_keyring(paths), settings.server.token)
        print(await (tokens.renew() if renew else tokens.get()))
    finally:
        await db.close()
    return 0


async def _db(args: argparse.Namespace, url: str) -> int:
    """`hiscrm db upgrade | import FILE... | export ACCOUNT | backup [FILE]`; problems are
    told, not traced (a DatabaseError reaches main)."""
    from sqlalchemy.exc import SQLAlchemyError

    from .engine.store.backup import backup
    from .engine.store.db import Database, DatabaseError
    from .engine.store.snapshot import export_snapshot, find_account

    db = Database(url)
    try:
        if args.action == "backup":  # a copy as it is: no migration, even of a damaged file
            copy = await backup(db, args.file)
            print(f"database copied to {copy}")
            return 0
        await db.upgrade()  # checks the file for damage first
        if args.action == "upgrade":
            print(f"database is up to date: {Database.redacted(url)}")
            return 0
        if args.action == "export":
            try:
                account_id = await find_account(db, args.account)
            except LookupError as exc:
                print(f"hiscrm: {exc.args[0]}", file=sys.stderr)
                return 1
            text = json.dumps(await export_snapshot(db, account_id), ensure_ascii=False, indent=1)
            if args.output is None:
                print(text)
            else:
                args.output.write_text(text, encoding="utf-8")
            return 0
        return await _import_files(db, args.files)
    except SQLAlchemyError as exc:  # met after the checks at start (a disk that failed since)
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__]
        raise DatabaseError(f"{Database.redacted(url)}: {reason[0]}") from exc
    finally:
        await db.close()


async def _import_files(db, files: list[Path]) -> int:
    """Each file on its own: one that cannot be imported is said and the next one still is."""
    from .engine.bus import EventBus
    from .engine.store.datastore import DataStore
    from .engine.store.snapshot import ImportStopped, SnapshotError, import_snapshot_file

    status = 0
    store = DataStore(db, EventBus())
    for path in files:
        try:
            result = await import_snapshot_file(store, path)
        except SnapshotError as exc:
            print(f"hiscrm: {path}: not imported: {exc}", file=sys.stderr)
            status = 1
            continue
        except ImportStopped as exc:
            print(f"hiscrm: {path}: {exc}", file=sys.stderr)
            return 1  # the database cannot take more: the next files would stop the same way
        print(f"{path}: {result.accepted} records imported, {len(result.rejected)} rejected")
        for rejection in result.rejected[:10]:
            print(f"  rejected {rejection.kind}[{rejection.index}] {rejection.key or ''}: {rejection.reason}")
    return status
