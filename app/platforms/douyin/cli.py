"""`hiscrm douyin check`: the live self-check (selfcheck.py) from the command line.

    hiscrm douyin check [--account NAME] [--proxy URL]

Opens the creator centre's pages in a headless Chromium with the account's saved session
(through the account's proxy, or --proxy), prints what no longer matches and saves the JSON
report (data folder, douyin/self-check-<time>.json) for us. Without --account the pages are
opened logged out: enough to see whether Douyin can be reached from this machine at all.
Exit code 0 when every page matched, 1 when something is missing, the account is not logged
in or Douyin cannot be reached.

The browser, the database and the account's session are loaded only when the command runs,
so building the parser costs `hiscrm` nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any


def add_commands(parser: argparse.ArgumentParser) -> None:
    """The Douyin subcommands, on `parser` (the `hiscrm douyin` parser)."""
    sub = parser.add_subparsers(dest="douyin_command", required=True, metavar="{check}")
    check = sub.add_parser("check", help="check the creator centre's pages against what the adapter expects")
    check.add_argument("--account", help="the Douyin account (its name or id) whose saved session is used")
    check.add_argument("--proxy", help="open the pages through this proxy, e.g. http://host:port "
                                       "(default: the account's own proxy, else none)")


def run(args: argparse.Namespace, paths: Any, settings: Any) -> int:
    """Run the parsed subcommand; returns the exit code."""
    database_url = settings.database_url or paths.default_database_url
    return asyncio.run(_check(paths, database_url, settings.browser_executable, args.account, args.proxy))


async def _check(paths: Any, database_url: str, executable: str, account: str | None, proxy: str | None) -> int:
    from app.engine.pool.browser import BrowserHost, BrowserUnavailable
    from app.engine.pool.fingerprint import context_options, fingerprint_for

    from .selfcheck import passed, run_self_check, summary, write_report

    session: dict[str, Any] = {"storage_state": None, "proxy": {"server": proxy} if proxy else None,
                               "fingerprint": fingerprint_for("douyin-self-check")}
    if account is not None:
        try:
            session = await _account_session(paths, database_url, account, session)
        except LookupError as exc:
            print(f"hiscrm douyin: {exc.args[0]}", file=sys.stderr)
            return 1
    host = BrowserHost(executable)
    try:
        browser = await host.browser()
        context = await browser.new_context(storage_state=session["storage_state"], proxy=session["proxy"],
                                            **context_options(session["fingerprint"], browser.version))
        try:
            report = await run_self_check(await context.new_page())
        finally:
            await context.close()
    except BrowserUnavailable as exc:
        print(f"hiscrm douyin: {exc}", file=sys.stderr)
        return 1
    finally:
        await host.stop()
    saved = write_report(report, paths.data_dir)
    for line in summary(report):
        if line == report.get("message"):  # why the check could not look: an error, on stderr
            print(f"hiscrm douyin: {line}", file=sys.stderr)
        else:
            print(f"  {line}")
    print(f"report saved to {saved}")
    return 0 if passed(report) else 1


async def _account_session(paths: Any, database_url: str, name_or_id: str, session: dict[str, Any]) -> dict[str, Any]:
    """The account's saved session, fingerprint and proxy (--proxy wins); LookupError when
    it is no Douyin account."""
    from app.engine.accounts import AccountService
    from app.engine.bus import EventBus
    from app.engine.secrets import SecretBox
    from app.engine.store.db import Database
    from app.engine.store.snapshot import find_account

    db = Database(database_url)
    try:
        await db.upgrade()
        accounts = AccountService(db, EventBus(), SecretBox.from_keyring(paths))
        row = await accounts.get(await find_account(db, name_or_id))
        if row is None or row.platform != "douyin":
            raise LookupError(f"{name_or_id!r} is not a Douyin account")
        state = await accounts.load_storage_state(row.id)
        if state is None:
            raise LookupError(f"the account {name_or_id!r} has no saved session: log it in first")
        proxy = session["proxy"] or (await accounts.browser_proxy(row.proxy_id) if row.proxy_id else None)
        return {"storage_state": state, "proxy": proxy, "fingerprint": row.fingerprint}
    finally:
        await db.close()
