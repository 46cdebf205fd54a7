"""Bad platform input: each bad record is rejected on its own with a clear reason, logged and
counted, and nothing else in the batch is lost."""
import logging
import time

import pytest

from app.engine.records import Batch
from store_helpers import ACCOUNT, T0, comment, comments, dm, messages

BAD_COMMENTS = {
    "nul character": comment("nul", text="hi\x00there"),
    "escape character": comment("esc", text="\x1b[31mred"),
    "lone surrogate": comment("sur", text="broken \ud800 text"),
    "before 2005": comment("old", created_at=946684800),  # 2000-01-01
    "far future": comment("future", created_at=time.time() + 3 * 86400),
    "naive time": comment("naive", created_at="2024-05-01T12:00:00"),
    "boolean time": comment("bool", created_at=True),
    "megabyte text": comment("huge", text="x" * 1_000_000),
    "wrong type": comment("wrong", like_count="many"),
    "negative likes": comment("neg", like_count=-1),
    "missing text": {k: v for k, v in comment("notext").items() if k != "text"},
    "missing id": {k: v for k, v in comment("x").items() if k != "platform_comment_id"},
    "empty id": comment(""),
    "not a record": ["c1", "v1", "text"],
    "bad direction": comment("dir", direction="sideways"),
}


async def test_each_bad_record_is_rejected_with_a_reason_and_the_rest_is_stored(store, db, caplog):
    good = [comment("good-1", t=1), comment("good-2", t=2, text="line one\n\tline two\r\n")]
    batch = Batch(ACCOUNT, comments=good[:1] + list(BAD_COMMENTS.values()) + good[1:],
                  messages=[dm("m1"), dm("m-bad", text="\x07bell")])
    with caplog.at_level(logging.WARNING, logger="app.engine.store.datastore"):
        result = await store.ingest(batch)
    assert result.accepted == 3
    assert len(result.rejected) == len(BAD_COMMENTS) + 1
    stored = await comments(db)
    assert set(stored) == {"good-1", "good-2"}
    assert stored["good-2"].text == "line one\n\tline two\n"  # newlines normalised, tab kept
    assert set(await messages(db)) == {"m1"}

    reasons = {r.key: r.reason for r in result.rejected}
    assert "control character (U+0000)" in reasons["nul"]
    assert "created_at" in reasons["old"] and "before 2005" in reasons["old"]
    assert "more than a day in the future" in reasons["future"]
    assert "no time zone" in reasons["naive"]
    assert "text" in reasons["huge"] and "20000" in reasons["huge"]
    assert "like_count" in reasons["wrong"]
    assert "text" in reasons["notext"] and "required" in reasons["notext"].lower()
    assert "direction" in reasons["dir"]
    assert "U+0007" in reasons["m-bad"]
    by_index = {(r.kind, r.index) for r in result.rejected}
    assert ("comments", 1) in by_index and ("messages", 1) in by_index

    assert store.rejected_total == len(BAD_COMMENTS) + 1
    assert "rejected comments[1]" in caplog.text
    assert "more rejected records in the same batch" in caplog.text  # a flood is summarised


async def test_a_batch_for_an_unknown_account_is_rejected_whole(store, db):
    result = await store.ingest(Batch("acc-gone", comments=[comment("c1")], messages=[dm("m1")]))
    assert result.accepted == 0 and result.unknown_account
    assert {r.key for r in result.rejected} == {"c1", "m1"}
    assert all("unknown account" in r.reason for r in result.rejected)
    assert await comments(db) == {}


async def test_numeric_ids_are_accepted_as_text(store, db):
    result = await store.ingest(Batch(ACCOUNT, comments=[
        dict(platform_comment_id=7301234567890123456, platform_content_id=7300000000000000001,
             text="numeric ids", created_at=T0)
    ]))
    assert result.rejected == []
    assert set(await comments(db)) == {"7301234567890123456"}


@pytest.mark.parametrize("kind_field", ["kind"])
async def test_overlong_short_fields_are_rejected_not_truncated(store, db, kind_field):
    result = await store.ingest(Batch(ACCOUNT, contents=[
        {"platform_content_id": "v1", kind_field: "x" * 100}
    ]))
    assert result.accepted == 0 and kind_field in result.rejected[0].reason
