"""The delta journal: durable, numbered, in order, forgotten only when the master answered."""
from __future__ import annotations

import time

from app.engine.records import Batch
from app.worker.journal import DeltaJournal


def comment(cid: str, text: str = "hi") -> dict:
    return {"platform_comment_id": cid, "platform_content_id": "w1", "text": text, "created_at": time.time()}


async def test_deltas_are_numbered_from_1_kept_in_order_and_survive_a_restart(tmp_path):
    journal = DeltaJournal(tmp_path / "deltas.db")
    assert await journal.append(Batch("acc-1", comments=[comment("c1")])) == 1
    assert await journal.append(Batch("acc-2", comments=[comment("c2")])) == 2
    journal.close()  # a kill -9 after the append returned loses nothing

    journal = DeltaJournal(tmp_path / "deltas.db")
    pending = await journal.pending()
    assert [(d.seq, d.account_id) for d in pending] == [(1, "acc-1"), (2, "acc-2")]
    assert pending[0].batch["comments"][0]["platform_comment_id"] == "c1"
    assert journal.acked_seq() == 0
    journal.close()


async def test_an_acknowledged_delta_is_forgotten_and_seq_never_repeats(tmp_path):
    journal = DeltaJournal(tmp_path / "deltas.db")
    for cid in ("c1", "c2", "c3"):
        await journal.append(Batch("acc-1", comments=[comment(cid)]))
    await journal.acknowledged(2)
    assert [d.seq for d in await journal.pending()] == [1, 3]
    await journal.applied_up_to(3)  # the master's register ack: everything up to 3 applied
    assert await journal.pending() == []
    assert journal.acked_seq() == 3
    journal.close()

    journal = DeltaJournal(tmp_path / "deltas.db")
    assert await journal.append(Batch("acc-1", comments=[comment("c4")])) == 4
    assert journal.acked_seq() == 3
    journal.close()


async def test_records_go_as_validated_json_and_an_empty_batch_is_not_journaled(tmp_path):
    journal = DeltaJournal(tmp_path / "deltas.db")
    woken = []
    journal.on_append(lambda: woken.append(True))
    assert await journal.append(Batch("acc-1", comments=[{"text": "no ids"}])) is None
    assert await journal.append(Batch("acc-1")) is None
    assert woken == []
    seq = await journal.append(Batch("acc-1", comments=[comment(123, "数字 id"), {"bad": True}]))
    [delta] = await journal.pending()
    assert delta.seq == seq and woken == [True]
    [record] = delta.batch["comments"]
    assert record["platform_comment_id"] == "123" and record["text"] == "数字 id"
    assert record["created_at"].endswith("Z")  # an ISO time: JSON, as model_dump(mode="json")
    journal.close()


async def test_a_master_that_counts_further_than_a_new_journal_gets_its_deltas_numbered_after_its_count(tmp_path):
    """A worker home set up again under the same id: the master has applied seqs 1..50 of
    the old one; the new journal's deltas must not be taken for those."""
    journal = DeltaJournal(tmp_path / "deltas.db")
    for cid in ("c1", "c2"):
        await journal.append(Batch("acc-1", comments=[comment(cid)]))
    await journal.applied_up_to(50)
    pending = await journal.pending()
    assert [d.seq for d in pending] == [51, 52]
    assert [d.batch["comments"][0]["platform_comment_id"] for d in pending] == ["c1", "c2"]
    assert journal.acked_seq() == 50
    assert await journal.append(Batch("acc-1", comments=[comment("c3")])) == 53
    await journal.applied_up_to(51)  # an ordinary ack: what it covers is forgotten
    assert [d.seq for d in await journal.pending()] == [52, 53]
    journal.close()
