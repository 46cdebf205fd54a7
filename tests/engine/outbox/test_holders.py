"""Replies go to the worker that holds the account (AccountHolders); an account whose worker
is away keeps its reply, with the reason, instead of losing it or sending it elsewhere."""
import asyncio
from dataclasses import dataclass, field

import pytest

from app.engine.accounts import AccountService
from app.engine.events import LoginProgress
from app.engine.holders import AccountHolders, NoHolder
from app.engine.login import LoginManager
from app.engine.outbox import Outbox
from app.engine.secrets import SecretBox

from .conftest import ACCOUNT, CONTENT_REF, OTHER_ACCOUNT, OTHER_REF, FakePlatform, wait_for_status


@dataclass
class Holder(FakePlatform):
    """A worker holding accounts; what it sends lands in its own list."""

    holder_id: str | None = None
    woken: list = field(default_factory=list)
    restarted: list = field(default_factory=list)

    async def log_in(self, account_id, io, *, visible=False):
        raise AssertionError("not used here")

    async def wake(self, account_id):
        self.woken.append(account_id)

    async def restart_account(self, account_id):
        self.restarted.append(account_id)


@pytest.fixture
async def rig(seeded_db, bus):
    local, remote = Holder(), Holder(holder_id="worker-2")
    holders = AccountHolders(AccountService(seeded_db, bus, SecretBox.generate()), local)
    holders.register(remote)
    box = Outbox(seeded_db, bus, holders, max_attempts=2, backoff_base_s=0.05, send_timeout_s=5)
    holders.on_change(box.wake)
    yield holders, local, remote, box
    await box.stop()


async def test_each_reply_goes_to_the_holder_of_its_account(rig):
    holders, local, remote, box = rig
    await holders.assign(OTHER_ACCOUNT, "worker-2")
    await box.start()
    mine = await box.reply(CONTENT_REF, "local reply")
    theirs = await box.reply(OTHER_REF, "remote reply")
    await wait_for_status(box, mine, "sent", "confirmed")
    await wait_for_status(box, theirs, "sent", "confirmed")
    assert [(p.account_id, p.text) for p in local.posted] == [(ACCOUNT, "local reply")]
    assert [(p.account_id, p.text) for p in remote.posted] == [(OTHER_ACCOUNT, "remote reply")]

    await holders.release(OTHER_ACCOUNT)  # back to the local pool
    again = await box.reply(OTHER_REF, "after release")
    await wait_for_status(box, again, "sent", "confirmed")
    assert local.copies("after release") == 1 and remote.copies("after release") == 0


async def test_a_reply_for_an_account_whose_worker_is_away_waits_with_the_reason(rig):
    holders, local, remote, box = rig
    await holders.assign(OTHER_ACCOUNT, "worker-2")
    holders.unregister("worker-2")  # the worker disconnected; the account stays bound to it
    with pytest.raises(NoHolder, match="no worker holds this account"):
        await holders.holder_of(OTHER_ACCOUNT)
    with pytest.raises(LookupError, match="no worker 'worker-3' is connected"):
        await holders.assign(ACCOUNT, "worker-3")

    await box.start()
    reply_id = await box.reply(OTHER_REF, "hello")
    row = await until_row(box, reply_id, lambda r: r.error_message)
    # Waiting for a holder uses up no attempt (max_attempts is 2 here): it is not failing.
    assert (row.status, row.attempts, row.error_code, row.wait_code) == ("queued", 0, None, "no_worker")
    assert row.error_message == "waiting for worker worker-2: it is not connected to this server"
    mine = await box.reply(CONTENT_REF, "meanwhile")  # other accounts' replies are not held up
    await wait_for_status(box, mine, "sent", "confirmed")
    assert (await box.get(reply_id)).status == "queued" and remote.sends == []

    holders.register(remote)  # the worker is back: the reply goes out by itself, once
    await wait_for_status(box, reply_id, "sent", "confirmed")
    assert remote.copies("hello") == 1 and local.copies("hello") == 0
    sent = await box.get(reply_id)
    assert (sent.attempts, sent.wait_code) == (1, None)  # it no longer waits


async def test_a_reply_whose_holder_vanishes_as_it_is_taken_is_given_back_untried(rig):
    holders, local, remote, box = rig
    await holders.assign(OTHER_ACCOUNT, "worker-2")
    gone = asyncio.Event()

    def vanish():  # the worker's socket closes between the dispatcher's look and the send
        holders.unregister("worker-2")
        gone.set()
        raise NoHolder("no worker holds this account (worker worker-2 is not connected)")

    remote.script.append(vanish)
    await box.start()
    reply_id = await box.reply(OTHER_REF, "hello")
    await gone.wait()
    row = await until_row(box, reply_id, lambda r: r.status == "queued" and r.error_message)
    assert (row.attempts, row.error_code, row.wait_code) == (0, None, "no_worker")
    holders.register(remote)
    await wait_for_status(box, reply_id, "sent", "confirmed")
    assert remote.copies("hello") == 1


async def until_row(box, reply_id, predicate, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        row = await box.get(reply_id)
        if predicate(row):
            return row
        assert asyncio.get_running_loop().time() < deadline, row
        await asyncio.sleep(0.02)


async def test_waking_and_restarting_go_to_the_holder(rig):
    holders, local, remote, box = rig
    await holders.assign(OTHER_ACCOUNT, "worker-2")
    await holders.wake(ACCOUNT)
    await holders.wake(OTHER_ACCOUNT)
    await holders.restart_account(OTHER_ACCOUNT)
    assert (local.woken, remote.woken, local.restarted, remote.restarted) == \
        ([ACCOUNT], [OTHER_ACCOUNT], [], [OTHER_ACCOUNT])

    holders.unregister("worker-2")
    await holders.wake(OTHER_ACCOUNT)  # nothing to wake while its worker is away
    with pytest.raises(NoHolder):
        await holders.restart_account(OTHER_ACCOUNT)  # the operator is told why
    assert remote.woken == [OTHER_ACCOUNT] and local.woken == [ACCOUNT]



async def test_a_login_of_an_account_whose_worker_is_away_fails_with_the_reason(rig, seeded_db, bus, events):
    holders, local, remote, box = rig
    accounts = AccountService(seeded_db, bus, SecretBox.generate())
    await holders.assign(OTHER_ACCOUNT, "worker-2")
    holders.unregister("worker-2")
    logins = LoginManager(holders, accounts, bus)
    session_id = await logins.start(OTHER_ACCOUNT)
    deadline = asyncio.get_running_loop().time() + 10
    while not logins.session(session_id).finished:
        assert asyncio.get_running_loop().time() < deadline, logins.session(session_id)
        await asyncio.sleep(0.01)
    session = logins.session(session_id)
    assert session.state == "failed" and session.message.startswith("no worker holds this account")
    assert (await accounts.get(OTHER_ACCOUNT)).login_status == "logged_in"  # as before the attempt
    await asyncio.sleep(0)  # the bus delivers on the next turn of the loop
    assert [e.state for e in events.of(LoginProgress) if e.session_id == session_id] == ["started", "failed"]
