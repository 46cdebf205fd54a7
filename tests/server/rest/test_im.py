"""/api/im over a real engine: the seed shapes, `account_id` required, and the offset cursor
with an exact has_more (the original said "more" after any full page, §8.18)."""
from __future__ import annotations

from .conftest import Api, at, ingest


async def _account_with(engine, conversations: int = 3) -> str:
    account_id = await engine.accounts.create("sandbox", "店铺")
    await ingest(engine, account_id,
                 conversations=[{"platform_conversation_id": f"d{i}", "peer_name": f"客户{i}"}
                                for i in range(conversations)],
                 messages=[{"platform_message_id": f"m{i}", "platform_conversation_id": f"d{i}",
                            "sender_id": f"d{i}", "sender_name": f"客户{i}", "text": f"你好 {i}",
                            "created_at": at(i)} for i in range(conversations)],
                 contents=[{"platform_content_id": "v1", "title": "新品"}, {"platform_content_id": "v2"}],
                 comments=[{"platform_comment_id": "c1", "platform_content_id": "v1", "author_name": "小王",
                            "text": "多少钱", "created_at": at(10)},
                           {"platform_comment_id": "c2", "platform_content_id": "v1", "author_name": "小李",
                            "text": "同问", "created_at": at(11), "parent_platform_comment_id": "c1"}])
    return account_id


async def test_the_cursor_is_an_offset_and_has_more_is_exact(api: Api, engine):
    account_id = await _account_with(engine, conversations=4)
    first = await api.get(f"/api/im/conversations?account_id={account_id}&count=2")
    assert first["status_code"] == 0
    page = first["data"]
    assert [c["conversation_id"] for c in page["conversations"]] == ["d3", "d2"]
    assert (page["cursor"], page["has_more"]) == (2, True)
    last = (await api.get(f"/api/im/conversations?account_id={account_id}&count=2&cursor=2"))["data"]
    assert [c["conversation_id"] for c in last["conversations"]] == ["d1", "d0"]
    assert (last["cursor"], last["has_more"]) == (4, False)  # a full last page: nothing more
    beyond = (await api.get(f"/api/im/conversations?account_id={account_id}&cursor=9"))["data"]
    assert (beyond["conversations"], beyond["cursor"], beyond["has_more"]) == ([], 9, False)
    conversation = page["conversations"][0]
    assert conversation["participant"]["user_name"] == "客户3" and conversation["unread_count"] == 1
    assert conversation["last_message"]["content"] == "你好 3"


async def test_messages_contents_discussions_and_the_unified_list(api: Api, engine):
    account_id = await _account_with(engine)
    messages = (await api.get(f"/api/im/messages?account_id={account_id}&conversation_id=d1"))["data"]
    [message] = messages["messages"]
    assert (message["msg_id"], message["direction"], message["content"], message["is_read"]) == (
        "m1", "inbound", "你好 1", False)
    assert message["sender"]["user_name"] == "客户1" and message["receiver"]["user_name"] == "店铺"
    assert message["create_time"] == int(at(1).timestamp() * 1000)
    since = int(at(1).timestamp() * 1000)
    recent = (await api.get(f"/api/im/messages?account_id={account_id}&since_time={since}"))["data"]
    assert [m["msg_id"] for m in recent["messages"]] == ["m2", "m1"]

    contents = await api.get(f"/api/im/contents?account_id={account_id}&count=1")
    assert set(contents) == {"data", "status_code", "cursor", "has_more"}  # cursor beside data, as §5
    assert [c["content_id"] for c in contents["data"]["contents"]] == ["v1"]
    assert contents["data"]["contents"][0]["stats"] == {"total_comments": 2, "new_comments": 2}
    assert (contents["cursor"], contents["has_more"]) == (1, True)

    discussions = await api.get(f"/api/im/discussions?account_id={account_id}&content_id=v1")
    assert [(d["discussion_id"], d["parent_comment_id"]) for d in discussions["data"]["discussions"]] == [("c2", "c1")]
    assert discussions["has_more"] is False

    unified = await api.get(f"/api/im/unified-messages?account_id={account_id}&count=3")
    items = unified["data"]["messages"]
    assert [(m["id"], m["business_type"]) for m in items] == [("c2", "discussion"), ("c1", "comment"),
                                                             ("m2", "direct_message")]
    assert items[0]["created_at"] == int(at(11).timestamp())  # seconds, as the original
    assert (unified["cursor"], unified["has_more"]) == (3, True)
    only_dms = await api.get(f"/api/im/unified-messages?account_id={account_id}&types=direct_message")
    assert {m["business_type"] for m in only_dms["data"]["messages"]} == {"direct_message"}

    users = (await api.get("/api/im/accounts"))["data"]
    assert [u["account_id"] for u in users["users"]] == [account_id] and users["has_more"] is False


async def test_bad_queries_get_the_im_error_envelope(api: Api, engine):
    missing = await api.get("/api/im/conversations", expect=400)
    assert missing["data"] is None and missing["status_code"] == 400 and "account_id" in missing["status_msg"]
    for query in ("count=0", "count=abc", "cursor=-1", "cursor=100000000", "types=likes"):
        answer = await api.get(f"/api/im/unified-messages?account_id=acc-x&{query}", expect=None)
        assert answer["status_code"] in (400, 404) and answer["data"] is None, query
    unknown = await api.get("/api/im/messages?account_id=acc-nobody", expect=404)
    assert unknown["status_code"] == 404
    account_id = await _account_with(engine)
    bad = await api.get(f"/api/im/unified-messages?account_id={account_id}&types=likes", expect=400)
    assert "types" in bad["status_msg"]
