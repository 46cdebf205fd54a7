"""The accounts the master assigned to this worker, mirrored into its own accounts table.

The worker's pool monitors exactly the accounts of its table (bound to it, logged in), so
holding an account is adopting its row (AccountService.adopt: the master's id, platform
identity, login state, saved session and proxy) and giving it up is deleting the row: the
pool reconciles on the AccountsChanged either publishes. The register ack lists every
account the master deals to this worker: a local account missing from it was given to
another worker meanwhile (this one was away past its heartbeat timeout) and is dropped,
so two workers do not keep monitoring one account.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..engine.accounts import AccountNotFound
from . import wire

if TYPE_CHECKING:
    from ..engine.engine import Engine

log = logging.getLogger(__name__)


class Assignments:
    def __init__(self, engine: "Engine") -> None:
        self._engine = engine
        self._lock = asyncio.Lock()  # assign, revoke and register acks apply in arrival order

    async def settled(self) -> None:
        """Return once the assignments that arrived before this call are applied (a login or
        a reply the master sends right after an assign finds the account here)."""
        async with self._lock:
            pass

    async def hold(self, payload: Any) -> str | None:
        """`master:task:assign`: hold (or update) the account; its id, None when unusable."""
        async with self._lock:
            return await self._adopt(payload)

    async def revoke(self, payload: Any) -> None:
        """`master:task:revoke`: stop monitoring the account and forget it here."""
        try:
            account_id = wire.AccountRef.model_validate(payload).account_id
        except ValidationError as exc:
            log.warning("ignored a malformed master:task:revoke: %s", wire.problem(exc))
            return
        async with self._lock:
            await self._drop(account_id)

    async def hold_only(self, accounts: list[Any]) -> list[str]:
        """The register ack's list: hold these, drop every other local account."""
        async with self._lock:
            held = [key for item in accounts if (key := await self._adopt(item)) is not None]
            for account in await self._engine.accounts.list():
                if account.id not in held:
                    log.info("account %s is no longer assigned to this worker", account.id)
                    await self._drop(account.id)
            return held

    async def _adopt(self, payload: Any) -> str | None:
        try:
            assigned = wire.AccountForWorker.model_validate(payload).assigned()
        except (ValidationError, ValueError) as exc:
            why = wire.problem(exc) if isinstance(exc, ValidationError) else str(exc)
            log.warning("ignored an unusable assigned account: %s", why)
            return None
        if assigned.platform not in self._engine.platforms.names():
            log.warning("account %s is on platform %r, which this worker does not have", assigned.id,
                        assigned.platform)
        await self._engine.accounts.adopt(assigned)
        return assigned.id

    async def _drop(self, account_id: str) -> None:
        try:
            await self._engine.accounts.delete(account_id)
        except AccountNotFound:
            pass
