"""The embedded server's access token: what every remote client and worker must present.

Generated on first use (32 random bytes, URL-safe) and kept in the database's settings table,
encrypted with the installation's key like the saved sessions, so the console can show it
(with a copy button) and two `hiscrm serve` processes on one shared database agree on it.
A token given in the settings file or on the command line (`server.token`, `--token`) wins:
that is how a second machine with another key, or a script with a fixed token, joins.
"""
from __future__ import annotations

import hmac
import secrets as random_source

from sqlalchemy.orm import Session

from .bus import EventBus
from .events import ServerTokenRenewed
from .secrets import SecretBox, SecretError
from .store.db import Database
from .store.models import Setting

KEY = "server_token"
TOKEN_BYTES = 32


class ServerToken:
    def __init__(self, db: Database, box: SecretBox, configured: str = "", bus: EventBus | None = None) -> None:
        self._db = db
        self._box = box
        self._bus = bus
        self.configured = configured  # settings.server.token or --token: used as given

    async def get(self) -> str:
        """The token, generated and saved on first use."""
        if self.configured:
            return self.configured
        stored = await self._db.read(_stored)
        if stored:
            try:
                return self._box.decrypt(stored.encode("ascii")).decode("utf-8")
            except SecretError:
                pass  # saved with another installation's key: a new one replaces it
        return await self.renew()

    async def renew(self) -> str:
        """A new token replaces the saved one (the operator's "New token"): clients holding
        the old one are refused from their next connect (ServerTokenRenewed: a running server
        restarts with the new one at once)."""
        token = random_source.token_urlsafe(TOKEN_BYTES)
        sealed = self._box.encrypt(token.encode("utf-8")).decode("ascii")
        await self._db.write(_store, sealed)
        if self._bus is not None:
            self._bus.publish(ServerTokenRenewed())
        return token


def tokens_match(given: object, expected: str) -> bool:
    """Constant-time comparison: how long a refusal takes says nothing about the token."""
    if not isinstance(given, str) or not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _stored(session: Session) -> str | None:
    row = session.get(Setting, KEY)
    return row.value if row is not None and isinstance(row.value, str) else None


def _store(session: Session, sealed: str) -> None:
    row = session.get(Setting, KEY)
    if row is None:
        session.add(Setting(key=KEY, value=sealed))
    else:
        row.value = sealed
