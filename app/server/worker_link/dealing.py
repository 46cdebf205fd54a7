"""What a worker is told about an account it holds (AccountForWorker, PROTOCOL.md §2.1).

An original Node worker reads the §2.1 fields (its cookies in `credentials`); a hiscrm/1
worker also gets the whole saved session (`storage_state`) and `hiscrm` (poll interval and
proxy), so it opens the account exactly as the local pool would."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.engine.accounts import AccountRow
    from app.engine.engine import Engine

HISCRM_PROTOCOL = "hiscrm/1"


async def account_for_worker(engine: Engine, account: AccountRow, *, hiscrm: bool) -> dict[str, Any]:
    state = await engine.accounts.load_storage_state(account.id)
    interval = account.monitor_interval_s or round(engine.settings.poll_interval_min_s)
    item: dict[str, Any] = {
        "id": account.id,
        "platform": account.platform,
        "account_id": account.id,  # W→M messages name the account by this id too
        "account_name": account.display_name,
        "platform_username": account.platform_username,
        "monitor_interval": interval,
        "status": "active" if account.monitor_enabled else "inactive",
        "login_status": account.login_status,
        "platform_user_id": account.platform_user_id,
        "credentials": {
            "cookies": list((state or {}).get("cookies") or []),
            "fingerprint": account.fingerprint or None,
            "localStorage": {},
        },
        "cookies_valid_until": None,
        "user_info": None,
        "last_check_time": _seconds(account.last_crawl_at),
        "last_login_time": _seconds(account.last_login_at),
    }
    if hiscrm:
        proxy = await engine.accounts.browser_proxy(account.proxy_id) if account.proxy_id else None
        item["storage_state"] = state
        item["hiscrm"] = {"monitor_interval_s": account.monitor_interval_s, "proxy": proxy}
    return item


def _seconds(instant: datetime | None) -> int | None:
    return None if instant is None else int(instant.timestamp())
