"""Snapshots in the original system's format: import (creating the account) and export."""
import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import event, func, select, text

from app.engine.records import Batch
from app.engine.store.datastore import DataStore
from app.engine.store.db import Database
from app.engine.store.models import Account, Comment
from app.engine.store.snapshot import (
    ImportStopped, SnapshotError, export_snapshot, find_account, import_snapshot, import_snapshot_file,
)
from store_helpers import ACCOUNT, T0, channel, comment, comments, contents, conversations, dm, messages

ORIGINAL_ACCOUNT = "acc-5f0c2b1e-0d4e-4c55-9a8e-3f1d2c3b4a59"

# As the original worker sent it (PROTOCOL.md §7): prefixed ids, bookkeeping fields we ignore,
# comment times in seconds, DM times and publishTime in milliseconds.
ORIGINAL_SNAPSHOT = {
    "accountId": ORIGINAL_ACCOUNT,
    "platform": "douyin",
    "timestamp": 1717000000000,
    "snapshot": {
        "platform": "douyin",
        "data": {
            "contents": [{
                "id": f"cont_{ORIGINAL_ACCOUNT}_7370000000000000001", "accountId": ORIGINAL_ACCOUNT,
                "platform": "douyin", "status": "synced", "source": "api", "version": 3,
                "contentId": "7370000000000000001", "type": "video", "title": "新品开箱",
                "coverUrl": "https://p3.example/cover.jpg", "publishTime": 1716000000000,
                "viewCount": 12000, "likeCount": 830, "commentCount": 3, "likeRate": 0.07,
                "rawData": {"aweme_id": "7370000000000000001"},
            }],
            "comments": [
                {"id": f"comm_{ORIGINAL_ACCOUNT}_c-100", "commentId": "c-100",
                 "contentId": "7370000000000000001", "parentCommentId": "0",
                 "authorId": "MS4wLjABAAAA-fan", "authorName": "小王", "authorAvatar": None,
                 "content": "多少钱？", "likeCount": 2, "isAuthorReply": False, "isRead": True,
                 "createdAt": 1716100000, "status": "new", "rawData": {}},
                {"id": f"comm_{ORIGINAL_ACCOUNT}_c-101", "commentId": "c-101",
                 "contentId": "7370000000000000001", "parentCommentId": "c-100",
                 "authorId": "creator", "authorName": "店主", "content": "私信你了",
                 "isAuthorReply": True, "isRead": False, "createdAt": 1716100060},
                # Only the prefixed id: the platform id is recovered from it.
                {"id": f"comm_{ORIGINAL_ACCOUNT}_c-102", "contentId": "7370000000000000001",
                 "authorName": "小李", "content": "好看", "createdAt": 1716100120},
                {"id": "broken", "commentId": "c-103", "contentId": "7370000000000000001",
                 "createdAt": 1716100180},  # no content: rejected
            ],
            "conversations": [{
                "id": f"conv_{ORIGINAL_ACCOUNT}_MS4wLjABAAAA-fan", "conversationId": "MS4wLjABAAAA-fan",
                "type": "private", "userId": "MS4wLjABAAAA-fan", "userName": "小王",
                "userAvatar": "https://p3.example/fan.jpg", "unreadCount": 1,
            }],
            "messages": [
                {"id": f"msg_{ORIGINAL_ACCOUNT}_m-1", "messageId": "m-1",
                 "conversationId": "MS4wLjABAAAA-fan", "senderId": "MS4wLjABAAAA-fan",
                 "senderName": "小王", "type": "text", "content": "在吗", "direction": "inbound",
                 "isRecalled": False, "isRead": False, "createdAt": 1716100200123,
                 "status": "delivered"},
                {"id": f"msg_{ORIGINAL_ACCOUNT}_m-2", "messageId": "m-2",
                 "conversationId": "MS4wLjABAAAA-fan", "senderId": "creator", "senderName": "店主",
                 "content": "在的", "direction": "outbound", "isRead": True,
                 "createdAt": 1716100260000},
            ],
            "notifications": [{"notificationId": "n-1", "type": "like", "content": "赞了你"}],
        },
    },
}


async def test_an_original_snapshot_is_imported_with_its_account_and_read_marks(store, db):
    result = await import_snapshot(store, json.loads(json.dumps(ORIGINAL_SNAPSHOT)))
    assert result.accepted == 7
    assert [(r.kind, r.index, r.key) for r in result.rejected] == [("comments", 3, "c-103")]
    account = await channel(db, ORIGINAL_ACCOUNT)
    assert account.platform == "douyin" and not account.monitor_enabled

    stored = await comments(db, account_id=ORIGINAL_ACCOUNT)
    assert set(stored) == {"c-100", "c-101", "c-102"}
    assert stored["c-100"].is_read and stored["c-100"].parent_platform_comment_id is None
    assert stored["c-100"].created_at == datetime.fromtimestamp(1716100000, timezone.utc)
    assert stored["c-101"].direction == "out" and stored["c-101"].parent_platform_comment_id == "c-100"
    video = (await contents(db))["7370000000000000001"]
    assert video.title == "新品开箱" and video.stats["viewCount"] == 12000
    assert video.publish_at == datetime.fromtimestamp(1716000000, timezone.utc)
    assert (video.message_count, video.unread_count) == (3, 1)  # c-102 unread; c-101 is ours

    dms = await messages(db, account_id=ORIGINAL_ACCOUNT)
    assert dms["m-1"].created_at == datetime.fromtimestamp(1716100200.123, timezone.utc)
    assert dms["m-2"].direction == "out" and not dms["m-1"].is_read
    peer = (await conversations(db))["MS4wLjABAAAA-fan"]
    assert peer.peer_name == "小王" and peer.unread_count == 1
    assert account.unread_count == 2


async def test_importing_again_keeps_the_read_marks_made_since(store, db):
    await import_snapshot(store, ORIGINAL_SNAPSHOT)
    from sqlalchemy import update
    from app.engine.store.models import DirectMessage

    await db.write(lambda s: s.execute(update(DirectMessage).values(is_read=True)))
    again = await import_snapshot(store, ORIGINAL_SNAPSHOT)  # still says m-1 is unread
    assert again.added_message_ids == []
    assert all(m.is_read for m in (await messages(db, account_id=ORIGINAL_ACCOUNT)).values())


async def test_export_then_import_gives_back_the_same_account(store, db, bus):
    await store.ingest(Batch(
        ACCOUNT,
        contents=[dict(platform_content_id="v1", title="Unboxing", publish_at=T0 - 60,
                       stats={"viewCount": 5})],
        comments=[comment("c1", like_count=3), comment("c2", t=1.5, direction="out",
                                                      parent_platform_comment_id="c1")],
        conversations=[dict(platform_conversation_id="peer-1", peer_name="Peer", peer_avatar="a.png")],
        messages=[dm("m1", t=2), dm("m2", t=3, direction="out", is_recalled=True)],
    ))
    exported = await export_snapshot(db, ACCOUNT)
    text = json.dumps(exported, ensure_ascii=False)  # plain JSON
    data = exported["snapshot"]["data"]
    assert data["comments"][0]["commentId"] == "c1" and data["comments"][0]["createdAt"] == T0
    assert data["comments"][1]["createdAt"] == T0 + 1.5 and data["comments"][1]["isAuthorReply"]
    assert data["messages"][0]["createdAt"] == (T0 + 2) * 1000
    assert data["messages"][1]["direction"] == "outbound"

    # Into another database-backed account id: the same content comes back.
    copy = json.loads(text.replace(ACCOUNT, "acc-copy"))
    result = await import_snapshot(store, copy)
    assert result.rejected == [] and result.accepted == 6
    again = await export_snapshot(db, "acc-copy")
    assert _without_envelope(again, "acc-copy") == _without_envelope(exported, ACCOUNT)


async def test_placeholders_of_queued_replies_are_not_exported(store, db):
    from app.engine.store.models import Comment, utcnow

    await store.ingest(Batch(ACCOUNT, comments=[comment("c1")]))
    await db.write(lambda s: s.add(Comment(
        account_id=ACCOUNT, platform_comment_id="local:1234", platform_content_id="v1",
        text="queued", created_at=utcnow(), direction="out", is_read=True, reply_id="1234")))
    exported = await export_snapshot(db, ACCOUNT)
    assert [c["commentId"] for c in exported["snapshot"]["data"]["comments"]] == ["c1"]


@pytest.mark.parametrize("document, message", [
    ([], "JSON object"),
    ({"platform": "douyin", "snapshot": {"data": {}}}, "no accountId"),
    ({"accountId": "acc-1", "platform": "douyin"}, "no snapshot.data"),
    ({"accountId": "acc-1", "snapshot": {"data": {}}}, "platform"),
    ({"accountId": "acc-1", "platform": "douyin", "snapshot": {"data": {"comments": {}}}},
     "comments of acc-1 is not a list"),
])
async def test_a_document_that_is_not_a_snapshot_is_refused_clearly(store, db, document, message):
    with pytest.raises(SnapshotError, match=message):
        await import_snapshot(store, document)


def _without_envelope(exported, account_id):
    """The snapshot minus what differs between two accounts (ids, time of export)."""
    text = json.dumps(exported["snapshot"], sort_keys=True).replace(account_id, "<account>")
    data = json.loads(text)
    for item in data["data"]["conversations"]:
        item.pop("createdAt")  # first seen: the time of the import
    return data


# ---- Snapshot files: streamed, and bad files told clearly -----------------------------------
def write_json(path, document):
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def big_snapshot(account_id="acc-big", comments_count=30_000):
    return {"accountId": account_id, "platform": "douyin", "timestamp": 1717000000000,
            "snapshot": {"platform": "douyin", "data": {
                "contents": [{"contentId": "v-1", "title": "video"}],
                "comments": [{"commentId": f"c-{i}", "contentId": "v-1", "authorName": f"fan {i}",
                              "content": f"comment {i} " * 8, "createdAt": 1716100000 + i}
                             for i in range(comments_count)],
                "conversations": [], "messages": [], "notifications": []}}}


async def test_a_snapshot_file_is_imported_like_the_document_it_holds(store, db, tmp_path):
    path = write_json(tmp_path / "snapshot.json", ORIGINAL_SNAPSHOT)
    result = await import_snapshot_file(store, path)
    assert result.accepted == 7
    assert [(r.kind, r.index, r.key) for r in result.rejected] == [("comments", 3, "c-103")]
    assert set(await comments(db, account_id=ORIGINAL_ACCOUNT)) == {"c-100", "c-101", "c-102"}
    assert (await channel(db, ORIGINAL_ACCOUNT)).unread_count == 2


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("text, message", [
    ('{"accountId": "a", "platform": "douyin", "snapshot": ' + DEEP + "}", "nested more than 64 levels deep"),
    (DEEP, "nested more than 64 levels deep"),
    ('{"accountId": "\\ud800", "platform": "douyin", "snapshot": {"data": {}}}', "accountId is not valid Unicode"),
    ('{"accountId": "a?b", "platform": "\\udc00x", "snapshot": {"data": {}}}', "not valid Unicode"),
    ('{"accountId": "a", "platform": "douyin", "snapshot": {"data": {"comments": [{"commentId": "c1"', "not valid JSON"),
])
async def test_a_hostile_file_is_refused_with_a_reason_and_nothing_written(store, db, tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    with pytest.raises(SnapshotError, match=message):
        await import_snapshot_file(store, path)
    assert await db.read(lambda s: s.scalar(select(func.count()).select_from(Account))) == 1  # only the fixture's


async def test_a_deeply_nested_record_refuses_the_file_and_says_which_record(store, db, tmp_path):
    path = tmp_path / "deep-record.json"
    text = json.dumps(big_snapshot(comments_count=3)).replace('"content": "comment 1 ', '"x": ' + DEEP + ', "content": "')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SnapshotError, match=r"nested more than 64 levels deep \(in comments\[1\]\)"):
        await import_snapshot_file(store, path)


async def test_a_full_disk_stops_the_import_and_says_what_was_committed(tmp_path):
    """SQLite's max_page_count makes the file full exactly as a full disk does (SQLITE_FULL)."""
    from app.engine.bus import EventBus

    db = Database(f"sqlite:///{tmp_path / 'full.db'}")
    await db.upgrade()
    pages = await db.read(lambda s: s.execute(text("PRAGMA page_count")).scalar())
    db.engine.dispose()
    event.listen(db.engine, "connect",
                 lambda connection, _record: connection.execute(f"PRAGMA max_page_count={pages + 400}"))
    path = write_json(tmp_path / "big.json", big_snapshot())
    with pytest.raises(ImportStopped) as info:
        await import_snapshot_file(DataStore(db, EventBus()), path)
    stopped = info.value
    stored = await db.read(lambda s: s.scalar(select(func.count()).select_from(Comment)))
    await db.close()
    assert 0 < stored < 30_000
    assert stopped.committed == {"contents": 1, "conversations": 0, "comments": stored, "messages": 0}
    assert f"stopped after committing {stored + 1} records (1 contents, {stored} comments)" in str(stopped)
    assert "database or disk is full" in str(stopped) and "import the file again" in str(stopped)


async def test_an_account_is_found_by_its_name_and_an_ambiguous_name_lists_the_ids(db):
    await db.write(lambda s: s.add_all([
        Account(id="acc-1", platform="douyin", display_name="店铺 A"),
        Account(id="acc-2", platform="douyin", display_name="Twin"),
        Account(id="acc-3", platform="sandbox", display_name="Twin"),
    ]))
    assert await find_account(db, "acc-1") == "acc-1"
    assert await find_account(db, "店铺 A") == "acc-1"
    with pytest.raises(LookupError, match=r"2 accounts are named 'Twin'.*acc-2 \(douyin\); acc-3 \(sandbox\)"):
        await find_account(db, "Twin")
    with pytest.raises(LookupError, match="unknown account 'nobody'"):
        await find_account(db, "nobody")
