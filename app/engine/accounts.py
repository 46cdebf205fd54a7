"""Accounts (the IM channels) and the proxies they go out through.

The one place that writes account rows: the UI, the server, the login flow and the worker pool
all come here, so every change is validated the same way and announced on the bus
(`AccountsChanged` for edits, `AccountStatusChanged` for login state) after it is committed.
The pool listens to those events to start and stop monitoring.

Saved browser sessions (cookies, local storage) and proxy passwords are encrypted with the
installation's SecretBox before they reach the database.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .avatars import delete_avatar
from .bus import EventBus
from .events import AccountsChanged, AccountStatusChanged, SessionSaved
from .platform import STABLE_ID, LoginFailed, LoginOutcome
from .pool.fingerprint import fingerprint_for
from .secrets import SecretBox, SecretError
from .store.db import Database
from .store.models import Account, AuditLog, LoginStatus, Proxy, utcnow

log = logging.getLogger(__name__)

MAX_NAME_LEN = 100
PROXY_PROTOCOLS = ("http", "https", "socks5")
PROXY_TEST_TIMEOUT_S = 5.0
_UNSET: Any = object()  # "argument not given" (None is a meaningful value for proxy_id)


class AccountNotFound(LookupError):
    def __init__(self, account_id: str) -> None:
        super().__init__(f"no account {account_id!r} (deleted?)")


class IdentityMismatch(LoginFailed):
    """A login confirmed by another platform identity than the one the account already has.

    Refused: accepting it would merge another creator's works and conversations into this
    account, and replies would then go out as (or fail for) the wrong creator. A new account
    takes the identity of its first login; after that only the same identity may log it in.
    """

    code = "identity_mismatch"

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(
            f"This account belongs to {expected} on the platform, but the login was confirmed "
            f"as {got}. Log in as {expected}, or add a new account for {got}."
        )
        self.expected = expected
        self.got = got


@dataclass(frozen=True)
class AccountRow:
    id: str
    platform: str
    display_name: str
    avatar_url: str | None
    platform_user_id: str | None
    platform_username: str | None
    login_status: str
    monitor_enabled: bool
    proxy_id: int | None
    last_error: str | None
    last_crawl_at: datetime | None
    last_login_at: datetime | None
    fingerprint: dict[str, Any]
    worker_id: str | None
    monitor_interval_s: int | None = None  # None: the settings' poll interval
    user_info: dict[str, Any] | None = None  # the platform's profile (followers, ...) from the last login
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class AssignedProxy:
    """A proxy as a master hands it over: protocol, "host:port", and its credentials."""

    protocol: str
    address: str
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class AssignedAccount:
    """An account a master assigned to a remote worker, as `AccountService.adopt` stores it."""

    id: str
    platform: str
    display_name: str
    login_status: str
    platform_user_id: str | None = None
    platform_username: str | None = None
    monitor_interval_s: int | None = None
    storage_state: dict[str, Any] | None = None  # None: keep what this worker saved, if anything
    proxy: AssignedProxy | None = None
    monitor_enabled: bool = True


@dataclass(frozen=True)
class ProxyRow:
    id: int
    name: str
    server: str  # host:port
    protocol: str
    username: str | None
    has_password: bool
    country: str | None
    city: str | None
    last_test_ok: bool | None
    last_test_ms: int | None
    last_test_error: str | None


class AccountService:
    def __init__(self, db: Database, bus: EventBus, secrets: SecretBox, *, data_dir: Path | None = None) -> None:
        self._db = db
        self._bus = bus
        self._secrets = secrets
        self._data_dir = data_dir  # where the accounts' files are (avatars.py); None: none kept

    @property
    def sessions_protected_by_file_permissions_only(self) -> bool:
        """No OS keyring: the key of the saved sessions is a private file (secrets.py)."""
        return self._secrets.protected_by_file_permissions_only

    # ---- Accounts

    async def list(self) -> list[AccountRow]:
        def query(s: Session) -> list[AccountRow]:
            rows = s.scalars(select(Account).order_by(Account.created_at, Account.id))
            return [_account_row(a) for a in rows]

        return await self._db.read(query)

    async def get(self, account_id: str) -> AccountRow | None:
        def query(s: Session) -> AccountRow | None:
            account = s.get(Account, account_id)
            return _account_row(account) if account else None

        return await self._db.read(query)

    async def create(self, platform: str, display_name: str, *, proxy_id: int | None = None) -> str:
        """Add an account (not logged in yet); returns its id ("acc-<uuid>")."""
        name = _clean_name(display_name)
        if not platform:
            raise ValueError("a platform is required")
        account_id = f"acc-{uuid.uuid4()}"

        def insert(s: Session) -> None:
            if proxy_id is not None and s.get(Proxy, proxy_id) is None:
                raise ValueError(f"no proxy {proxy_id}")
            s.add(
                Account(
                    id=account_id,
                    platform=platform,
                    display_name=name,
                    proxy_id=proxy_id,
                    fingerprint=fingerprint_for(account_id),
                    login_status=LoginStatus.NOT_LOGGED_IN.value,
                    monitor_enabled=True,
                    user_info={},
                )
            )
            _audit(s, "account.create", account_id, platform=platform, name=name)

        await self._db.write(insert)
        self._bus.publish(AccountsChanged(account_id))
        return account_id

    async def update(
        self,
        account_id: str,
        *,
        display_name: str = _UNSET,
        proxy_id: int | None = _UNSET,
        monitor_interval_s: int | None = _UNSET,
    ) -> None:
        """Change what the operator may edit; arguments not given stay as they are."""
        changes: dict[str, Any] = {}
        if display_name is not _UNSET:
            changes["display_name"] = _clean_name(display_name)
        if proxy_id is not _UNSET:
            changes["proxy_id"] = proxy_id
        if monitor_interval_s is not _UNSET:
            if monitor_interval_s is not None and not 1 <= monitor_interval_s <= 3600:
                raise ValueError("the monitor interval must be between 1 and 3600 seconds")
            changes["monitor_interval_s"] = monitor_interval_s

        def apply(s: Session) -> None:
            account = _load(s, account_id)
            if changes.get("proxy_id") is not None and s.get(Proxy, changes["proxy_id"]) is None:
                raise ValueError(f"no proxy {changes['proxy_id']}")
            for key, value in changes.items():
                setattr(account, key, value)

        await self._db.write(apply)
        self._bus.publish(AccountsChanged(account_id))

    async def delete(self, account_id: str) -> None:
        """Remove the account and everything stored for it (messages, replies), then its
        files (the avatar)."""

        def remove(s: Session) -> None:
            s.delete(_load(s, account_id))
            _audit(s, "account.delete", account_id)

        await self._db.write(remove)
        if self._data_dir is not None:
            delete_avatar(self._data_dir, account_id)
        self._bus.publish(AccountsChanged(account_id))

    async def adopt(self, assigned: "AssignedAccount") -> None:
        """Hold an account a master assigned to this process (a remote worker, app/worker):
        create or update the row under the master's id with what the master knows (its
        platform identity, so a login as someone else is refused here too; its login state,
        saved session and proxy), bound to this process's own pool."""
        name = _clean_name(assigned.display_name)
        status = LoginStatus(assigned.login_status).value
        blob = None if assigned.storage_state is None else self._encrypt_state(assigned.storage_state)
        proxy = assigned.proxy
        secret = self._secrets.encrypt(proxy.password.encode("utf-8")) if proxy and proxy.password else None
        if proxy is not None:
            host, port = _parse_server(proxy.address)

        def apply(s: Session) -> None:
            account = s.get(Account, assigned.id)
            if account is None:
                account = Account(id=assigned.id, fingerprint=fingerprint_for(assigned.id), user_info={})
                s.add(account)
            account.monitor_enabled = assigned.monitor_enabled
            account.platform = assigned.platform
            account.display_name = name
            account.platform_user_id = assigned.platform_user_id or account.platform_user_id
            account.platform_username = assigned.platform_username or account.platform_username
            account.login_status = status
            account.monitor_interval_s = assigned.monitor_interval_s
            account.worker_id = None  # this process's own pool holds it
            if blob is not None:
                account.storage_state_encrypted = blob
            if proxy is None:
                account.proxy_id = None
            else:
                row = s.scalar(select(Proxy).where(Proxy.server == f"{host}:{port}", Proxy.protocol == proxy.protocol,
                                                   Proxy.username == proxy.username))
                if row is None:
                    row = Proxy(name=f"{host}:{port}", server=f"{host}:{port}", protocol=proxy.protocol,
                                username=proxy.username)
                    s.add(row)
                row.password_encrypted = secret
                s.flush()
                account.proxy_id = row.id
            _audit(s, "account.adopt", assigned.id, platform=assigned.platform)

        await self._db.write(apply)
        self._bus.publish(AccountsChanged(assigned.id))

    async def set_monitoring(self, account_id: str, enabled: bool) -> None:
        def apply(s: Session) -> None:
            _load(s, account_id).monitor_enabled = bool(enabled)

        await self._db.write(apply)
        self._bus.publish(AccountsChanged(account_id))

    async def set_worker(self, account_id: str, worker_id: str | None) -> None:
        """Bind the account to the worker that is to hold it (None: the local pool); the
        pools reconcile on the AccountsChanged this publishes (app/engine/holders.py)."""
        if worker_id is not None and not 0 < len(worker_id) <= 64:
            raise ValueError("a worker id has 1 to 64 characters")

        def apply(s: Session) -> None:
            _load(s, account_id).worker_id = worker_id
            _audit(s, "account.assign", account_id, worker_id=worker_id)

        await self._db.write(apply)
        self._bus.publish(AccountsChanged(account_id))

    async def set_login_status(self, account_id: str, status: str, *, error: str | None = None) -> None:
        status = LoginStatus(status).value  # ValueError names a bad status

        def apply(s: Session) -> None:
            account = _load(s, account_id)
            account.login_status = status
            account.last_error = error

        await self._db.write(apply)
        self._bus.publish(AccountStatusChanged(account_id, status, error=error))

    async def record_login(
        self, account_id: str, outcome: LoginOutcome, *, storage_state: dict[str, Any] | None = None
    ) -> None:
        """A login succeeded: remember who we are on the platform and the page's session
        (`storage_state`); the account is logged in. A login as another platform identity
        than the account's raises IdentityMismatch and changes nothing (the saved session of
        the right identity is kept). Identities are compared by their permanent id
        (`STABLE_ID`) when both sides know it, else by `platform_user_id`."""
        blob = None if storage_state is None else self._encrypt_state(storage_state)

        def apply(s: Session) -> None:
            account = _load(s, account_id)
            known = account.platform_user_id
            known_stable = (account.user_info or {}).get(STABLE_ID)
            stable = outcome.user_info.get(STABLE_ID)
            if known_stable and stable:
                same = known_stable == stable
            else:
                same = not known or known == outcome.platform_user_id
            if not same:
                raise IdentityMismatch(platform_identity(account.platform_username, known),
                                       platform_identity(outcome.username, outcome.platform_user_id))
            if blob is not None:
                account.storage_state_encrypted = blob
            account.platform_user_id = outcome.platform_user_id
            account.platform_username = outcome.username
            if outcome.avatar_url:
                account.avatar_url = outcome.avatar_url
            account.user_info = dict(outcome.user_info)
            if known_stable and not stable:  # once known, kept: a login that did not learn it forgets nothing
                account.user_info[STABLE_ID] = known_stable
            account.login_status = LoginStatus.LOGGED_IN.value
            account.last_login_at = utcnow()
            account.last_error = None
            _audit(s, "account.login", account_id, platform_user_id=outcome.platform_user_id)

        await self._db.write(apply)
        self._bus.publish(AccountStatusChanged(account_id, LoginStatus.LOGGED_IN.value))
        if blob is not None:
            self._bus.publish(SessionSaved(account_id))

    async def logout(self, account_id: str) -> None:
        """Forget the saved session; the account needs a new login."""

        def apply(s: Session) -> None:
            account = _load(s, account_id)
            account.storage_state_encrypted = None
            account.login_status = LoginStatus.NOT_LOGGED_IN.value
            _audit(s, "account.logout", account_id)

        await self._db.write(apply)
        self._bus.publish(AccountStatusChanged(account_id, LoginStatus.NOT_LOGGED_IN.value))

    async def record_crawl(self, account_id: str, *, error: str | None = None) -> None:
        """Note a monitor cycle: success sets last_crawl_at and clears the error."""

        def apply(s: Session) -> None:
            account = s.get(Account, account_id)
            if account is None:  # deleted while its monitor was running
                return
            if error is None:
                account.last_crawl_at = utcnow()
            account.last_error = error

        await self._db.write(apply)

    # ---- Saved browser sessions

    async def save_storage_state(self, account_id: str, state: dict[str, Any]) -> None:
        blob = self._encrypt_state(state)

        def apply(s: Session) -> None:
            _load(s, account_id).storage_state_encrypted = blob

        await self._db.write(apply)
        self._bus.publish(SessionSaved(account_id))

    def _encrypt_state(self, state: dict[str, Any]) -> bytes:
        return self._secrets.encrypt(json.dumps(state, separators=(",", ":")).encode("utf-8"))

    async def load_storage_state(self, account_id: str) -> dict[str, Any] | None:
        """The saved session, or None when there is none or it cannot be decrypted (a new
        login then replaces it; the unreadable data is left in place, not destroyed)."""

        def query(s: Session) -> bytes | None:
            return s.scalar(select(Account.storage_state_encrypted).where(Account.id == account_id))

        blob = await self._db.read(query)
        if not blob:
            return None
        try:
            return json.loads(self._secrets.decrypt(blob))
        except (SecretError, ValueError) as exc:
            log.warning("saved session of %s is unusable: %s", account_id, exc)
            return None

    # ---- Proxies

    async def list_proxies(self) -> list[ProxyRow]:
        def query(s: Session) -> list[ProxyRow]:
            return [_proxy_row(p) for p in s.scalars(select(Proxy).order_by(Proxy.id))]

        return await self._db.read(query)

    async def add_proxy(
        self,
        name: str,
        server: str,
        *,
        protocol: str = "http",
        username: str | None = None,
        password: str | None = None,
        country: str | None = None,
        city: str | None = None,
    ) -> int:
        host, port = _parse_server(server)
        if protocol not in PROXY_PROTOCOLS:
            raise ValueError(f"proxy protocol must be one of {', '.join(PROXY_PROTOCOLS)}")
        secret = self._secrets.encrypt(password.encode("utf-8")) if password else None

        def insert(s: Session) -> int:
            proxy = Proxy(
                name=_clean_name(name),
                server=f"{host}:{port}",
                protocol=protocol,
                username=username or None,
                password_encrypted=secret,
                country=country,
                city=city,
            )
            s.add(proxy)
            s.flush()
            return proxy.id

        proxy_id = await self._db.write(insert)
        self._bus.publish(AccountsChanged(None))
        return proxy_id

    async def update_proxy(self, proxy_id: int, **changes: Any) -> ProxyRow:
        """Change a proxy's name, server, protocol, username, password, country or city;
        arguments not given stay as they are (a password of None or "" removes it)."""
        unknown = set(changes) - {"name", "server", "protocol", "username", "password", "country", "city"}
        if unknown:
            raise ValueError(f"unknown proxy fields: {', '.join(sorted(unknown))}")
        values = dict(changes)
        if "name" in values:
            values["name"] = _clean_name(values["name"])
        if "server" in values:
            host, port = _parse_server(values["server"])
            values["server"] = f"{host}:{port}"
        if "protocol" in values and values["protocol"] not in PROXY_PROTOCOLS:
            raise ValueError(f"proxy protocol must be one of {', '.join(PROXY_PROTOCOLS)}")
        if "username" in values:
            values["username"] = values["username"] or None
        if "password" in values:
            password = values.pop("password")
            values["password_encrypted"] = self._secrets.encrypt(password.encode("utf-8")) if password else None

        def apply(s: Session) -> ProxyRow:
            proxy = s.get(Proxy, proxy_id)
            if proxy is None:
                raise LookupError(f"no proxy {proxy_id}")
            for key, value in values.items():
                setattr(proxy, key, value)
            s.flush()
            return _proxy_row(proxy)

        row = await self._db.write(apply)
        self._bus.publish(AccountsChanged(None))
        return row

    async def delete_proxy(self, proxy_id: int) -> None:
        """Remove a proxy; its accounts go out directly from then on."""

        def remove(s: Session) -> None:
            proxy = s.get(Proxy, proxy_id)
            if proxy is None:
                raise LookupError(f"no proxy {proxy_id}")
            for account in s.scalars(select(Account).where(Account.proxy_id == proxy_id)):
                account.proxy_id = None
            s.delete(proxy)

        await self._db.write(remove)
        self._bus.publish(AccountsChanged(None))

    async def test_proxy(self, proxy_id: int, target_url: str | None = None) -> ProxyRow:
        """Check the proxy within 5 s and remember the result and the time it took.

        With `target_url`, an HTTP(S) proxy must fetch that page (with its username and
        password): that proves it forwards, not only that something listens. Without one,
        and for SOCKS5 proxies (aiohttp speaks no SOCKS), a TCP connection to the proxy must open.
        """
        proxy, secret = await self._proxy(proxy_id)
        host, port = _parse_server(proxy.server)
        started = time.perf_counter()
        ok, error = True, None
        try:
            async with asyncio.timeout(PROXY_TEST_TIMEOUT_S):
                if target_url and proxy.protocol in ("http", "https"):
                    password = self._secrets.decrypt(secret).decode("utf-8") if secret else ""
                    error = await _fetch_through(proxy, password, target_url)
                    ok = error is None
                else:
                    _reader, writer = await asyncio.open_connection(host, port)
                    writer.close()
        except (OSError, asyncio.TimeoutError) as exc:
            ok, error = False, str(exc) or type(exc).__name__
        elapsed_ms = int((time.perf_counter() - started) * 1000)

        def apply(s: Session) -> ProxyRow:
            row = s.get(Proxy, proxy_id)
            if row is None:
                raise LookupError(f"no proxy {proxy_id}")
            row.last_test_ok, row.last_test_ms, row.last_test_error = ok, elapsed_ms, error
            return _proxy_row(row)

        return await self._db.write(apply)

    async def browser_proxy(self, proxy_id: int) -> dict[str, str]:
        """Playwright's `proxy` option for this proxy (password decrypted)."""
        proxy, secret = await self._proxy(proxy_id)
        options = {"server": f"{proxy.protocol}://{proxy.server}"}
        if proxy.username:
            options["username"] = proxy.username
        if secret:
            options["password"] = self._secrets.decrypt(secret).decode("utf-8")
        return options

    async def _proxy(self, proxy_id: int) -> tuple[ProxyRow, bytes | None]:
        """The proxy and its encrypted password."""

        def query(s: Session) -> tuple[ProxyRow, bytes | None]:
            proxy = s.get(Proxy, proxy_id)
            if proxy is None:
                raise LookupError(f"no proxy {proxy_id}")
            return _proxy_row(proxy), proxy.password_encrypted

        return await self._db.read(query)


# ---- Helpers


def _load(s: Session, account_id: str) -> Account:
    account = s.get(Account, account_id)
    if account is None:
        raise AccountNotFound(account_id)
    return account


def _audit(s: Session, action: str, account_id: str | None, **detail: Any) -> None:
    s.add(AuditLog(actor="system", action=action, account_id=account_id, detail=detail))


def platform_identity(username: str | None, user_id: str) -> str:
    """How an operator recognises a platform identity: "name (id 123)"."""
    return f"{username} (id {user_id})" if username and username != user_id else f"id {user_id}"


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValueError("a name is required")
    if len(name) > MAX_NAME_LEN:
        raise ValueError(f"the name is longer than {MAX_NAME_LEN} characters")
    return name


async def _fetch_through(proxy: ProxyRow, password: str, target_url: str) -> str | None:
    """GET `target_url` through the proxy: None when it answered, else why not."""
    import aiohttp  # here: the console starts without loading an HTTP client it may never use

    from yarl import URL

    host, port = _parse_server(proxy.server)
    through = URL.build(scheme="http", host=host, port=port, user=proxy.username or None,
                        password=password if proxy.username else None)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(target_url, proxy=through, allow_redirects=False) as response:
                if response.status >= 400:
                    return f"the proxy answered {response.status} {response.reason or ''}".strip()
    except aiohttp.ClientError as exc:
        return str(exc) or type(exc).__name__
    return None


def _parse_server(server: str) -> tuple[str, int]:
    """"host:port" → (host, port), with a clear error for anything else."""
    host, sep, port_text = (server or "").strip().rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"proxy server must be host:port (got {server!r})")
    return host.strip("[]"), int(port_text)


def _account_row(a: Account) -> AccountRow:
    return AccountRow(
        id=a.id,
        platform=a.platform,
        display_name=a.display_name,
        avatar_url=a.avatar_url,
        platform_user_id=a.platform_user_id,
        platform_username=a.platform_username,
        login_status=a.login_status,
        monitor_enabled=a.monitor_enabled,
        proxy_id=a.proxy_id,
        last_error=a.last_error,
        last_crawl_at=a.last_crawl_at,
        last_login_at=a.last_login_at,
        fingerprint=dict(a.fingerprint or {}) or fingerprint_for(a.id),
        worker_id=a.worker_id,
        monitor_interval_s=a.monitor_interval_s,
        user_info=dict(a.user_info or {}),
        created_at=a.created_at,
        updated_at=a.updated_at,
    )


def _proxy_row(p: Proxy) -> ProxyRow:
    return ProxyRow(
        id=p.id,
        name=p.name,
        server=p.server,
        protocol=p.protocol,
        username=p.username,
        has_password=p.password_encrypted is not None,
        country=p.country,
        city=p.city,
        last_test_ok=p.last_test_ok,
        last_test_ms=p.last_test_ms,
        last_test_error=p.last_test_error,
    )
