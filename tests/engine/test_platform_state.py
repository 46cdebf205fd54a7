"""The platform state service on real databases: what a platform saves outlives the monitor
that saved it (hibernation, restart), stays per account, and goes with the account."""
from app.engine.accounts import AccountService
from app.engine.bus import EventBus
from app.engine.platform_state import PlatformStateStore
from app.engine.secrets import SecretBox
from app.engine.store.db import Database


async def test_saved_state_survives_a_restart_and_stays_with_its_account(db_url):
    db = Database(db_url)
    await db.upgrade()
    accounts = AccountService(db, EventBus(), SecretBox.generate())
    first, second = await accounts.create("sandbox", "一号"), await accounts.create("sandbox", "二号")
    writes = []
    state = PlatformStateStore(db).account(first, on_write=lambda: writes.append(1))
    await state.set("works", {"w1": 12, "作品": 3})
    await state.set("cursor", 40)
    await state.set("cursor", 60)
    await state.set("gone", [1])
    await state.set("gone", None)
    assert writes == [1] * 5  # each committed write counts as progress
    await db.close()

    db = Database(db_url)  # a restart
    await db.upgrade()
    store = PlatformStateStore(db)
    again = store.account(first)
    assert await again.get("works") == {"w1": 12, "作品": 3}
    assert await again.get("cursor") == 60
    assert await again.get("gone", "default") == "default"
    assert await store.account(second).get("works") is None  # per account
    await AccountService(db, EventBus(), SecretBox.generate()).delete(first)
    assert await store.account(first).get("works") is None  # deleted with the account
    await db.close()
