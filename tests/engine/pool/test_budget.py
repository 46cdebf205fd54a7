"""PageBudget: the page limit and the stay-awake policy (budget.py)."""
import asyncio

import pytest

from app.engine.pool.budget import PageBudget


async def test_the_limit_holds_and_operator_actions_jump_the_queue():
    budget = PageBudget(limit=1, hibernate_after_s=60)
    await budget.acquire("a")
    order = []

    async def take(account_id, urgent=False):
        await budget.acquire(account_id, urgent=urgent)
        order.append(account_id)

    waiting = [asyncio.ensure_future(take("b")), asyncio.ensure_future(take("c", urgent=True))]
    await asyncio.sleep(0)
    assert budget.in_use == 1 and order == []
    budget.release("a")
    await asyncio.sleep(0)
    assert order == ["c"] and budget.in_use == 1
    budget.release("c")
    await asyncio.gather(*waiting)
    assert order == ["c", "b"]


async def test_a_cancelled_waiter_gives_its_page_back():
    budget = PageBudget(limit=1, hibernate_after_s=60)
    await budget.acquire("a")
    waiter = asyncio.ensure_future(budget.acquire("b"))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    budget.release("a")
    assert budget.in_use == 0
    await asyncio.wait_for(budget.acquire("c"), 1)


async def test_awake_quota_keeps_a_reserve_and_the_operator_evicts_chance_sleepers():
    budget = PageBudget(limit=4, hibernate_after_s=60)
    assert budget.awake_quota == 3  # a quarter (at least one page) keeps rotating
    evicted = []
    for account_id in "abc":
        await budget.acquire(account_id)
        assert budget.claim_awake(account_id, lambda a=account_id: evicted.append(a))
    await budget.acquire("d")
    assert not budget.claim_awake("d", lambda: None)  # traffic alone evicts nobody
    budget.release("d")
    budget.touch("d", operator=True)
    await budget.acquire("d")
    assert budget.claim_awake("d", lambda: evicted.append("d"))
    assert len(evicted) == 1 and budget.awake_left(evicted[0]) is None
    assert budget.awake_left("d") == pytest.approx(60, abs=1)


async def test_awake_time_runs_out_without_interest():
    budget = PageBudget(limit=2, hibernate_after_s=0.05)
    await budget.acquire("a")
    assert budget.claim_awake("a", lambda: None)
    await asyncio.sleep(0.06)
    assert budget.awake_left("a") <= 0
    budget.touch("a", operator=False)  # new messages extend it
    assert budget.awake_left("a") > 0


async def test_a_waiting_account_sends_a_chance_sleeper_to_sleep_but_not_the_operators():
    budget = PageBudget(limit=4, hibernate_after_s=60)
    evicted = []
    budget.touch("a", operator=True)
    for account_id in "abc":
        await budget.acquire(account_id)
        assert budget.claim_awake(account_id, lambda a=account_id: evicted.append(a))
    await budget.acquire("d")  # the rotation page
    waiter = asyncio.ensure_future(budget.acquire("e"))
    await asyncio.sleep(0)
    assert evicted == ["b"]  # awake by chance, touched longest ago; "a" is the operator's
    budget.release("b")  # it hibernates
    await asyncio.wait_for(waiter, 1)
    assert budget.awake_left("a") is not None


async def test_an_account_already_queued_for_its_poll_goes_first_when_the_operator_opens_it():
    budget = PageBudget(limit=1, hibernate_after_s=60)
    await budget.acquire("busy")
    order = []

    async def take(account_id):
        await budget.acquire(account_id)
        order.append(account_id)
        budget.release(account_id)

    waiting = [asyncio.ensure_future(take(a)) for a in ("p1", "p2", "opened")]
    await asyncio.sleep(0)
    budget.hurry("opened")  # the operator clicks it while its poll waits behind the rotation
    budget.hurry("nobody")  # not waiting: nothing changes
    budget.release("busy")
    await asyncio.gather(*waiting)
    assert order == ["opened", "p1", "p2"]


async def test_a_larger_budget_opens_pages_for_the_waiting_accounts_at_once():
    budget = PageBudget(limit=1, hibernate_after_s=60)
    await budget.acquire("a")
    waiting = asyncio.ensure_future(budget.acquire("b"))
    await asyncio.sleep(0)
    assert not waiting.done()
    budget.resize(3)
    await asyncio.wait_for(waiting, 1)
    assert budget.in_use == 2 and budget.awake_quota == 2


async def test_a_smaller_budget_sends_idle_awake_accounts_to_sleep():
    budget = PageBudget(limit=8, hibernate_after_s=60)
    evicted = []
    for account in "abcd":
        await budget.acquire(account)
        assert budget.claim_awake(account, lambda account=account: evicted.append(account))
    budget.touch("d", operator=True)
    budget.resize(2)
    assert budget.awake_quota == 1
    assert sorted(evicted) == ["a", "b", "c"]  # the one the operator looked at stays
    for account in evicted:
        budget.release(account)
    assert budget.in_use == 1
