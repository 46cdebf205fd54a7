"""Who may attach: every namespace and every REST call presents the server's token.

The token may come the three ways real clients can send it: Socket.IO's `auth` object
(`{"token": …}`, our workers and scripts), the handshake's query string (`?token=…`: the
original crm-pc-im client appends whatever query its configured URL has), or an HTTP
`Authorization: Bearer …` header (REST, and any client that sets extra headers).
"""
from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import parse_qs

REFUSED = "a valid token is required (auth {token}, ?token= or Authorization: Bearer)"


def presented_token(environ: Mapping[str, Any], auth: Any = None) -> str | None:
    """The token a Socket.IO handshake carries, wherever the client put it."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return auth["token"]
    query = parse_qs(environ.get("QUERY_STRING", "") or "")
    if query.get("token"):
        return query["token"][0]
    return bearer(environ.get("HTTP_AUTHORIZATION"))


def bearer(header: str | None) -> str | None:
    if isinstance(header, str) and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None

