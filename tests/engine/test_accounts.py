"""AccountService on real databases: edits, login state, encrypted sessions, proxies."""
import asyncio

import pytest
from aiohttp import web
from sqlalchemy import select

from app.engine.accounts import (
    AccountNotFound,
    AccountService,
    AssignedAccount,
    AssignedProxy,
    IdentityMismatch,
)
from app.engine.avatars import avatar_file, save_avatar
from app.engine.bus import EventBus
from app.engine.events import AccountsChanged, AccountStatusChanged, SessionSaved
from app.engine.platform import STABLE_ID, LoginOutcome
from app.engine.secrets import SecretBox
from app.engine.store.models import Account
from tests.forward_proxy import ForwardProxy


@pytest.fixture
def bus():
    return EventBus()


@pytest.fixture
def events(bus):
    seen = []
    bus.subscribe(AccountsChanged, seen.append)
    bus.subscribe(AccountStatusChanged, seen.append)
    return seen


@pytest.fixture
def service(db, bus):
    return AccountService(db, bus, SecretBox.generate())


async def settle():
    await asyncio.sleep(0)  # the bus delivers on the next loop iteration


async def test_create_edit_delete_announce_each_change(service, events):
    account_id = await service.create("sandbox", "  客服一号  ")
    row = await service.get(account_id)
    assert account_id.startswith("acc-")
    assert row.display_name == "客服一号"
    assert row.login_status == "not_logged_in" and row.monitor_enabled
    assert row.fingerprint["locale"] == "zh-CN" and row.fingerprint["timezone"] == "Asia/Shanghai"
    await service.update(account_id, display_name="Desk 1", monitor_interval_s=60)
    await service.set_monitoring(account_id, False)
    row = await service.get(account_id)
    assert (row.display_name, row.monitor_interval_s, row.monitor_enabled) == ("Desk 1", 60, False)
    await service.delete(account_id)
    assert await service.get(account_id) is None
    await settle()
    assert [type(e) for e in events] == [AccountsChanged] * 4
    assert all(e.account_id == account_id for e in events)


async def test_bad_input_is_refused_with_a_reason(service):
    with pytest.raises(ValueError, match="name is required"):
        await service.create("sandbox", "   ")
    with pytest.raises(ValueError, match="longer than 100"):
        await service.create("sandbox", "x" * 101)
    account_id = await service.create("sandbox", "A")
    with pytest.raises(ValueError, match="no proxy 999"):
        await service.update(account_id, proxy_id=999)
    with pytest.raises(ValueError, match="between 1 and 3600"):
        await service.update(account_id, monitor_interval_s=0)
    with pytest.raises(ValueError):
        await service.set_login_status(account_id, "sort_of_logged_in")
    with pytest.raises(AccountNotFound):
        await service.set_monitoring("acc-missing", True)
    assert (await service.get(account_id)).display_name == "A"  # nothing half-applied


async def test_login_and_logout(service, events):
    account_id = await service.create("sandbox", "A")
    await service.set_login_status(account_id, "logging_in")
    await service.record_login(account_id, LoginOutcome("u-42", "creator42", "http://127.0.0.1/a.png", {"followers": 7}))
    row = await service.get(account_id)
    assert (row.login_status, row.platform_user_id, row.platform_username) == ("logged_in", "u-42", "creator42")
    assert row.last_login_at is not None and row.last_error is None
    await service.save_storage_state(account_id, {"cookies": [{"name": "sid", "value": "s3cr3t"}]})
    await service.logout(account_id)
    assert (await service.get(account_id)).login_status == "not_logged_in"
    assert await service.load_storage_state(account_id) is None
    await settle()
    statuses = [e.login_status for e in events if isinstance(e, AccountStatusChanged)]
    assert statuses == ["logging_in", "logged_in", "not_logged_in"]


async def test_an_identity_with_a_permanent_id_is_compared_by_it_once_known(service):
    """Douyin's 抖音号 can be changed by its creator; its numeric uid cannot."""
    account_id = await service.create("douyin", "A")
    await service.record_login(account_id, LoginOutcome("shop_a", "Shop", user_info={"followers": 1}))
    # not known yet: compared by the shown id, and learnt
    with pytest.raises(IdentityMismatch, match="shop_b"):
        await service.record_login(account_id, LoginOutcome("shop_b", "Shop", user_info={STABLE_ID: "1001"}))
    await service.record_login(account_id, LoginOutcome("shop_a", "Shop", user_info={STABLE_ID: "1001"}))
    # the creator renamed the 抖音号: the same uid is the same account, shown with its new id
    await service.record_login(account_id, LoginOutcome("shop_new", "Shop", user_info={STABLE_ID: "1001"}))
    assert (await service.get(account_id)).platform_user_id == "shop_new"
    # another uid is another creator, whatever its 抖音号 says
    with pytest.raises(IdentityMismatch, match=r"Shop \(id shop_new\)"):
        await service.record_login(account_id, LoginOutcome("shop_new", "Other", user_info={STABLE_ID: "2002"}))
    # a login that could not learn the uid is compared by the shown id and forgets no uid
    await service.record_login(account_id, LoginOutcome("shop_new", "Shop", user_info={}))
    row = await service.get(account_id)
    assert (row.platform_user_id, row.user_info) == ("shop_new", {STABLE_ID: "1001"})


async def test_storage_state_is_encrypted_at_rest(db, service):
    account_id = await service.create("sandbox", "A")
    state = {"cookies": [{"name": "sessionid", "value": "cookie-value-7f3a9c"}], "origins": []}
    await service.save_storage_state(account_id, state)
    with db.session() as s:
        stored = s.scalar(select(Account.storage_state_encrypted).where(Account.id == account_id))
    assert stored and b"cookie-value-7f3a9c" not in stored and b"sessionid" not in stored
    assert await service.load_storage_state(account_id) == state


async def test_a_session_saved_under_another_key_reads_as_none_and_is_kept(db, bus, service):
    account_id = await service.create("sandbox", "A")
    await service.save_storage_state(account_id, {"cookies": []})
    other = AccountService(db, bus, SecretBox.generate())
    assert await other.load_storage_state(account_id) is None
    assert await service.load_storage_state(account_id) == {"cookies": []}  # not destroyed


async def test_proxies(db, service):
    proxy_id = await service.add_proxy("HK 1", "127.0.0.1:1", username="u", password="pw-123")
    with pytest.raises(ValueError, match="host:port"):
        await service.add_proxy("bad", "no-port")
    with pytest.raises(ValueError, match="protocol"):
        await service.add_proxy("bad", "127.0.0.1:8080", protocol="ftp")
    [row] = await service.list_proxies()
    assert (row.server, row.username, row.has_password) == ("127.0.0.1:1", "u", True)
    assert await service.browser_proxy(proxy_id) == {
        "server": "http://127.0.0.1:1", "username": "u", "password": "pw-123"
    }
    tested = await service.test_proxy(proxy_id)  # nothing listens on port 1
    assert tested.last_test_ok is False and tested.last_test_error
    # A listening server tests fine.
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ok_id = await service.add_proxy("local", f"127.0.0.1:{port}")
    assert (await service.test_proxy(ok_id)).last_test_ok is True
    server.close()
    updated = await service.update_proxy(ok_id, name="local 2", password="s3", username="me")
    assert (updated.name, updated.username, updated.has_password) == ("local 2", "me", True)
    assert (await service.update_proxy(ok_id, password="")).has_password is False
    with pytest.raises(ValueError, match="host:port"):
        await service.update_proxy(ok_id, server="nowhere")
    account_id = await service.create("sandbox", "A", proxy_id=proxy_id)
    await service.delete_proxy(proxy_id)
    assert (await service.get(account_id)).proxy_id is None


async def test_an_assigned_account_is_adopted_under_the_masters_id_and_keeps_its_identity(service, events):
    """A remote worker holds what its master assigns: the row under the master's id, its
    identity (a login as someone else is refused here too), session and proxy."""
    state = {"cookies": [{"name": "sid", "value": "1"}], "origins": []}
    proxy = AssignedProxy("http", "10.0.0.1:8080", "u", "p")
    assigned = AssignedAccount("acc-m1", "sandbox", "Shop", "logged_in", platform_user_id="uid-1",
                               platform_username="shop", monitor_interval_s=30, storage_state=state, proxy=proxy)
    await service.adopt(assigned)
    await service.adopt(AssignedAccount("acc-m1", "sandbox", "Shop renamed", "expired", proxy=proxy))
    account = await service.get("acc-m1")
    assert (account.display_name, account.login_status, account.platform_user_id, account.worker_id) == (
        "Shop renamed", "expired", "uid-1", None)
    assert account.monitor_interval_s is None
    assert await service.load_storage_state("acc-m1") == state  # no session given: the saved one stays
    assert len(await service.list_proxies()) == 1  # the same proxy again is the same row
    assert await service.browser_proxy(account.proxy_id) == {"server": "http://10.0.0.1:8080", "username": "u",
                                                             "password": "p"}
    with pytest.raises(IdentityMismatch):
        await service.record_login("acc-m1", LoginOutcome(platform_user_id="uid-2"), storage_state=state)
    await settle()
    assert [e.account_id for e in events if isinstance(e, AccountsChanged)] == ["acc-m1", "acc-m1"]


async def test_a_saved_session_is_announced(service, bus):
    saved = []
    bus.subscribe(SessionSaved, saved.append)
    account_id = await service.create("sandbox", "Shop")
    await service.save_storage_state(account_id, {"cookies": [], "origins": []})
    await service.record_login(account_id, LoginOutcome(platform_user_id="u"), storage_state={"cookies": []})
    await settle()
    assert [e.account_id for e in saved] == [account_id, account_id]


async def test_a_proxy_test_with_a_target_fetches_it_through_the_proxy(service):
    """A port that accepts connections is not a proxy: with a target the check must get the
    page through it, with the proxy's credentials."""
    target = web.Application()

    async def health(request):
        return web.json_response({"status": "ok"})

    target.router.add_get("/health", health)
    runner = web.AppRunner(target)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/health"
    try:
        async with ForwardProxy("u", "pw") as proxy:
            good = await service.add_proxy("fwd", f"127.0.0.1:{proxy.port}", username="u", password="pw")
            tested = await service.test_proxy(good, url)
            assert tested.last_test_ok is True, tested.last_test_error
            assert proxy.requests == [url]
            wrong = await service.add_proxy("fwd", f"127.0.0.1:{proxy.port}", username="u", password="no")
            refused = await service.test_proxy(wrong, url)
            assert refused.last_test_ok is False and "407" in refused.last_test_error
        listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        silent = await service.add_proxy("not a proxy", f"127.0.0.1:{listener.sockets[0].getsockname()[1]}")
        assert (await service.test_proxy(silent, url)).last_test_ok is False
        listener.close()
    finally:
        await runner.cleanup()


async def test_deleting_an_account_deletes_its_avatar_file(db, bus, tmp_path):
    service = AccountService(db, bus, SecretBox.generate(), data_dir=tmp_path)
    kept, gone = await service.create("douyin", "留下"), await service.create("douyin", "删除")
    for account_id in (kept, gone):
        save_avatar(tmp_path, account_id, b"\x89PNG\r\n\x1a\n")
    await service.delete(gone)
    assert not avatar_file(tmp_path, gone).exists()
    assert avatar_file(tmp_path, kept).exists()  # only that account's
    avatar_file(tmp_path, kept).unlink()
    await service.delete(kept)  # an account without its file is deleted all the same
    assert await service.get(kept) is None
