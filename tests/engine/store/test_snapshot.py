"""Snapshots in the original system's format: import (creating the account) and export."""
import json
from datetime import datetime, timezone

import pytest

from app.engine.records import Batch
from app.engine.store.datastore import DataStore
from app.engine.store.snapshot import SnapshotError, export_snapshot, import_snapshot
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
