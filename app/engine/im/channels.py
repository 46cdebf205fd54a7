"""The channel list (one channel per account) and the unread totals.

Both read the denormalised counters the DataStore keeps beside the messages (accounts and
topics), so they never count message rows: the channel list reads the accounts table, and the
unread totals sum only topics with unread messages through the partial indexes of migration
0002 (ix_contents_unread / ix_conversations_unread, which hold unread_count themselves).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, bindparam, func, literal_column, select, type_coerce
from sqlalchemy.orm import Session

from ..store.models import Account
from .tables import BOTH, BY_KIND, utc_from_ms
from .types import Channel, UnreadTotals


def list_channels(session: Session) -> list[Channel]:
    """Every account, including those without messages yet; the most recent activity first,
    then the oldest account first (a stable order while nothing happens)."""
    return [_to_channel(row) for row in session.execute(_CHANNELS)]


def get_channel(session: Session, account_id: str) -> Channel | None:
    row = session.connection().execute(_CHANNEL, {"account_id": account_id}).first()  # Core: no ORM overhead
    return None if row is None else _to_channel(row)


def unread_totals(session: Session, account_id: str | None) -> UnreadTotals:
    """Unread inbound comments and direct messages of one account, or of all of them."""
    comments, dms = (
        int(session.connection().execute(_unread_sum(t.kind, account_id is not None),
                                         {"account_id": account_id}).scalar_one())
        for t in BOTH
    )
    return UnreadTotals(comments=comments, direct_messages=dms)


# Statements are built once: building them costs more than running them.
_CHANNELS = select(
    Account.id,
    Account.platform,
    Account.display_name,
    Account.avatar_url,
    Account.login_status,
    Account.monitor_enabled,
    Account.last_error,
    Account.unread_count,
    Account.message_count,
    type_coerce(Account.last_message_at, BigInteger).label("activity_ms"),
    Account.last_message_preview,
    Account.platform_username,
    Account.platform_user_id,
    Account.worker_id,
    Account.user_info,
).order_by(Account.last_message_at.desc().nulls_last(), Account.created_at, Account.id)

_CHANNEL = _CHANNELS.where(Account.id == bindparam("account_id"))


@lru_cache(maxsize=None)
def _unread_sum(kind: str, one_account: bool) -> Any:
    T = BY_KIND[kind].topic
    # A literal, not a bound parameter: it must match the partial index's WHERE.
    stmt = select(func.coalesce(func.sum(T.unread_count), 0)).where(T.unread_count > literal_column("0"))
    if one_account:
        stmt = stmt.where(T.account_id == bindparam("account_id"))
    return stmt


def _to_channel(row: Any) -> Channel:
    return Channel(
        account_id=row.id,
        platform=row.platform,
        name=row.display_name,
        avatar_url=row.avatar_url,
        login_status=row.login_status,
        monitor_enabled=bool(row.monitor_enabled),
        last_error=row.last_error,
        unread_count=row.unread_count,
        message_count=row.message_count,
        last_message_at=utc_from_ms(row.activity_ms),
        last_message_preview=row.last_message_preview,
        platform_username=row.platform_username,
        platform_user_id=row.platform_user_id,
        worker_id=row.worker_id,
        user_info=dict(row.user_info or {}),
    )
