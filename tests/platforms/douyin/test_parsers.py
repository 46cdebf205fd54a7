"""Every Douyin fixture parsed into records with the README's id and time rules, and the
malformed and partial bodies that must give a clear error instead of wrong records."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest

from app.engine.platform import AccountBlocked, NeedsVerification, RateLimited, ReplyBlocked, SessionExpired
from app.engine.records import (
    CommentRecord,
    ContentRecord,
    ConversationRecord,
    MessageRecord,
)
from app.platforms.douyin import parsers
from app.platforms.douyin.anatomy import API
from app.platforms.douyin.errors import ApiRefused, BadResponse

from .fixtures_io import SELF_UID, body, text


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def valid(model, records):
    """Every record passes the DataStore's validation (as it would when stored)."""
    return [model.model_validate(r) for r in records]


# ---- works ---------------------------------------------------------------------------------
def test_v1_works_list_keeps_both_ids_and_reads_the_beijing_display_time_as_utc():
    parsed = parsers.parse_item_list(body("creator_item_list.json"), self_uid=SELF_UID)
    assert [c["platform_content_id"] for c in parsed.contents] == [
        "7400000000000000004", "7400000000000000003", "7400000000000000002", "7400000000000000001"]
    first = parsed.contents[-1]
    assert first["aliases"] == {"item_id": "@jFAKEitem0001/" + "A" * 72 + "=="}
    # "发布于2025年01月10日 10:00" Beijing = 02:00 UTC, the same instant janus gives as 1736474400
    assert first["publish_at"] == utc(2025, 1, 10, 2, 0) == datetime.fromtimestamp(1736474400, timezone.utc)
    assert first["stats"] == {"comment_count": 4}
    assert first["url"] == "https://example.invalid/share/video/7400000000000000001/"
    assert parsed.cursor == "1736474400000" and parsed.has_more is False
    assert parsed.self_uid == SELF_UID
    stored = valid(ContentRecord, parsed.contents)
    assert stored[2].title == "测试作品标题二\n#测试话题"  # \r is a line break


def test_works_by_another_author_are_refused():
    raw = body("creator_item_list.json")
    raw["item_info_list"][0]["anchor_user_id"] = "1999999999999999"
    parsed = parsers.parse_item_list(raw, self_uid=SELF_UID)
    assert "7400000000000000004" not in [c["platform_content_id"] for c in parsed.contents]
    assert len(parsed.contents) == 3 and "not by our account" in parsed.problems[0]


def test_janus_work_list_pairs_metrics_by_index_and_takes_the_capital_c_cover():
    parsed = parsers.parse_janus_work_list(body("janus_work_list.json"), self_uid=SELF_UID)
    assert [c["platform_content_id"] for c in parsed.contents] == [
        "7400000000000000003", "7400000000000000002", "7400000000000000001"]
    work = parsed.contents[0]
    assert work["publish_at"] == utc(2025, 1, 12, 3, 0)  # epoch seconds, no −8 h
    assert work["cover_url"] == "https://example.invalid/cover/3.jpg"
    assert work["stats"]["comment_count"] == 2 and work["stats"]["play_count"] == 2045
    assert work["stats"]["cover_show"] == 6135  # from items[0].metrics, a string
    assert "like_rate" not in work["stats"] and "dislike_rate" not in work["stats"]
    assert work["aliases"]["item_id"].startswith("@jFAKEitem0003")
    assert parsed.cursor == "3" and parsed.has_more is False
    valid(ContentRecord, parsed.contents)


def test_janus_cover_falls_back_to_the_video_cover():
    raw = body("janus_work_list.json")
    raw["aweme_list"][0]["Cover"] = None
    assert parsers.parse_janus_work_list(raw).contents[0]["cover_url"] == "https://example.invalid/cover/3.jpg"


# ---- comments ------------------------------------------------------------------------------
def test_v1_creator_comments_take_the_work_from_the_request_and_keep_emoji_tags():
    parsed = parsers.parse_creator_comments(body("creator_comment_list.json"), content_id="7400000000000000001")
    assert len(parsed.comments) == 4 and parsed.has_more is False and parsed.cursor == "4"
    oldest = parsed.comments[-1]
    assert oldest["platform_comment_id"].startswith("@jFAKEcmt0001/")
    assert oldest["platform_content_id"] == "7400000000000000001"
    assert oldest["text"] == "[赞][赞]拍得真好[鼓掌]"
    assert oldest["created_at"] == utc(2025, 1, 13, 3, 30)  # "1736739000", a string of seconds
    assert oldest["author_name"] == "测试用户01" and oldest["like_count"] == 2
    assert oldest["parent_platform_comment_id"] is None and oldest["direction"] == "in"
    valid(CommentRecord, parsed.comments)


def test_v1_replies_take_their_parent_from_the_request_and_is_author_marks_ours():
    parent = "@jFAKEcmt0003/" + "A" * 72 + "=="
    url = ("https://creator.douyin.com/aweme/v1/creator/comment/reply/list/?cursor=0&count=10"
           f"&comment_id={parent.replace('/', '%2F').replace('=', '%3D')}&item_id=%40jFAKEitem0001&aid=2906")
    parsed = parsers.parse_endpoint("creator_comment_reply_list", url, body("creator_comment_reply_list.json"),
                                    item_ids={"@jFAKEitem0001": "7400000000000000001"})
    assert {c["parent_platform_comment_id"] for c in parsed.comments} == {parent}
    assert {c["platform_content_id"] for c in parsed.comments} == {"7400000000000000001"}
    assert [c["direction"] for c in parsed.comments] == ["out", "in", "out"]
    assert parsed.comments[2]["text"] == "[比心][比心]"


def test_a_v1_reply_list_names_only_its_parent_whose_work_is_known():
    parent = "@jFAKEcmt0003/x=="
    url = f"https://creator.douyin.com/aweme/v1/creator/comment/reply/list/?cursor=0&count=10&comment_id={parent}"
    known = {parent: {"platform_content_id": "7400000000000000001"}}
    parsed = parsers.parse_endpoint("creator_comment_reply_list", url, body("creator_comment_reply_list.json"),
                                    known_comments=known)
    assert {c["platform_content_id"] for c in parsed.comments} == {"7400000000000000001"}
    with pytest.raises(BadResponse, match="parent comment is not known"):
        parsers.parse_endpoint("creator_comment_reply_list", url, body("creator_comment_reply_list.json"))


def test_v1_comment_list_without_item_id_in_the_request_is_refused():
    with pytest.raises(BadResponse, match="names no item_id"):
        parsers.parse_endpoint("creator_comment_list", "https://creator.douyin.com/aweme/v1/creator/comment/list/?cursor=0",
                               body("creator_comment_list.json"))


def test_v2_comments_have_has_more_as_int_and_the_author_label_marks_ours():
    parsed = parsers.parse_web_comments(body("web_comment_list_select.json"), self_uid=SELF_UID)
    assert parsed.has_more is False and parsed.cursor == "4"
    by_id = {c["platform_comment_id"]: c for c in parsed.comments}
    assert set(by_id) == {f"741000000000000000{i}" for i in range(1, 5)}
    assert by_id["7410000000000000003"]["direction"] == "out"  # label_text 作者
    assert by_id["7410000000000000002"]["text"] == "这个地方看起来很不错[比心]"
    assert by_id["7410000000000000004"]["created_at"] == datetime.fromtimestamp(1736760000, timezone.utc)
    assert by_id["7410000000000000004"]["author_id"] == "2000000000000004"
    assert by_id["7410000000000000004"]["author_avatar"] == "https://example.invalid/avatar/4.jpg"
    assert all(c["parent_platform_comment_id"] is None for c in parsed.comments)
    valid(CommentRecord, parsed.comments)


@pytest.mark.parametrize("value, expected", [(0, False), (1, True), (True, True), (False, False)])
def test_has_more_is_read_as_a_bool_or_an_int(value, expected):
    raw = body("web_comment_list_select.json")
    raw["has_more"] = value
    assert parsers.parse_web_comments(raw).has_more is expected


def test_v2_replies_answer_the_reply_they_name_or_else_their_thread():
    parsed = parsers.parse_endpoint(
        "web_comment_reply_list",
        "https://creator.douyin.com/web/api/third_party/aweme/api/comment/read/aweme/v1/web/comment/list/reply/"
        "?comment_id=7410000000000000002&cursor=0&count=10",
        body("web_comment_list_reply.json"), self_uid=SELF_UID)
    parents = {c["platform_comment_id"]: c["parent_platform_comment_id"] for c in parsed.comments}
    assert parents == {"7420000000000000001": "7410000000000000002",
                       "7420000000000000002": "7420000000000000001",  # answers our reply
                       "7420000000000000003": "7410000000000000002"}
    assert parsed.comments[0]["direction"] == "out"
    assert parsed.comments[1]["text"] == "作者回复好快[捂脸]"


def test_comment_notices_give_the_comment_and_our_work_and_read_19_digit_nids_exactly():
    raw_text = text("web_notice_detail.json")
    parsed = parsers.parse_notice_detail(parsers.decode_body("notice", raw_text), self_uid=SELF_UID)
    # 7430000000000000003 > 2**53: as a float it would be 7430000000000000000
    assert parsed.notice_ids == ["7430000000000000003", "7430000000000000002", "7430000000000000001"]
    assert float(7430000000000000003) == 7430000000000000000.0
    comment = parsed.comments[0]
    assert comment["platform_comment_id"] == "7410000000000000013"
    assert comment["text"] == "[比心][比心][比心]加油"
    assert comment["platform_content_id"] == "7400000000000000002"
    assert comment["created_at"] == datetime.fromtimestamp(1736900000, timezone.utc)
    assert {c["platform_content_id"] for c in parsed.contents} == {"7400000000000000001", "7400000000000000002"}
    valid(CommentRecord, parsed.comments)
    valid(ContentRecord, parsed.contents)


def test_a_notice_without_nid_str_uses_the_exact_json_integer():
    raw = parsers.decode_body("notice", text("web_notice_detail.json"))
    del raw["notice_list_v2"][0]["nid_str"]
    assert parsers.parse_notice_detail(raw).notice_ids[0] == "7430000000000000003"
    raw["notice_list_v2"][0]["nid"] = 7.43e18  # what a JavaScript number would have kept
    parsed = parsers.parse_notice_detail(raw)
    assert "7410000000000000013" not in [c["platform_comment_id"] for c in parsed.comments]
    assert "lost its digits" in parsed.problems[0]


def test_other_notice_types_are_skipped():
    raw = body("web_notice_detail.json")
    raw["notice_list_v2"][1]["type"] = 41  # a like or follow notice
    parsed = parsers.parse_notice_detail(raw)
    assert len(parsed.comments) == 2 and not parsed.problems


def test_pushed_notices_from_page_state_parse_like_the_http_ones():
    parsed = parsers.parse_notices(body("page_state/notice_push_list.json"), self_uid=SELF_UID)
    assert [c["platform_comment_id"] for c in parsed.comments] == ["7410000000000000014"]
    assert parsed.comments[0]["text"] == "[赞]讲得很清楚"


def test_the_works_a_notice_asks_to_read_are_those_of_replies_and_notices_without_comment():
    notice = body("page_state/notice_push_list.json")[0]
    assert parsers.notice_works_to_crawl([notice]) == []  # a comment notice has all a record needs
    reply = copy.deepcopy(notice)
    reply["comment"]["comment"].update(reply_to_username="测试用户01", reply_to_userid="100000000001")
    bare = copy.deepcopy(notice)
    bare["comment"] = None  # only the general notice's message_extra names the work
    bare["general_notice"]["message_extra"] = '{"item_id":7400000000000000002,"notice_type":31}'
    assert parsers.notice_works_to_crawl([reply, bare, reply]) == ["7400000000000000003", "7400000000000000002"]


def test_a_pushed_message_names_its_conversation_and_peer():
    store = body("page_state/im_store.json")
    pushed = {"msgListToPush": store["msgListToPush"], "userInfoFromServerMap": store["userInfoFromServerMap"]}
    parsed = parsers.parse_im_store(pushed, self_uid=SELF_UID)
    assert parsed.conversations == [{"platform_conversation_id": "0:1:1000000000000001:2000000000000002",
                                     "peer_id": "2000000000000002", "peer_name": "测试用户02",
                                     "peer_avatar": "https://example.invalid/avatar/2.jpg"}]
    valid(ConversationRecord, parsed.conversations)


def test_one_comment_seen_in_both_id_systems_is_linked_by_an_alias():
    v1 = parsers.parse_creator_comments(body("creator_comment_list.json"), content_id="7400000000000000001").comments
    v2_raw = body("web_comment_list_select.json")
    # The V2 copy of V1's comment 0001: same text, author and second; and a lookalike
    # on another work that must not be linked.
    twin = copy.deepcopy(v2_raw["comments"][3])
    twin.update(cid="7410000000000000099", text="[赞][赞]拍得真好[鼓掌]", create_time=1736739000)
    twin["user"]["nickname"] = "测试用户01"
    other_work = copy.deepcopy(twin)
    other_work.update(cid="7410000000000000098", aweme_id="7400000000000000002")
    v2_raw["comments"] += [twin, other_work]
    v2 = parsers.parse_web_comments(v2_raw).comments
    assert parsers.link_comment_aliases(v1, v2, "v1") == 1
    linked = [c for c in v2 if c.get("aliases")]
    assert [(c["platform_comment_id"], c["aliases"]) for c in linked] == [
        ("7410000000000000099", {"v1": v1[-1]["platform_comment_id"]})]
    valid(CommentRecord, v2)


def test_two_identical_comments_are_not_linked_to_one():
    v1 = parsers.parse_creator_comments(body("creator_comment_list.json"), content_id="w").comments
    twin = dict(v1[0], platform_comment_id="7410000000000000099")
    assert parsers.link_comment_aliases(v1, [twin, dict(twin, platform_comment_id="7410000000000000098")], "v1") == 0


# ---- publishing ----------------------------------------------------------------------------
def test_the_publish_response_gives_our_reply_as_a_record():
    record = parsers.published_comment(body("comment_reply_publish.json"), content_id="7400000000000000001",
                                       parent_id="7410000000000000002", text="感谢留言，已私信回复您")
    assert record["platform_comment_id"] == "7420000000000000009"
    assert record["direction"] == "out" and record["parent_platform_comment_id"] == "7410000000000000002"
    assert record["created_at"] == datetime.fromtimestamp(1736901000, timezone.utc)
    CommentRecord.model_validate(record)


def test_a_refused_publish_is_blocked_with_douyins_message():
    with pytest.raises(ReplyBlocked, match="评论失败，请稍后重试"):
        parsers.published_comment(body("comment_reply_publish_error.json"), content_id="w", parent_id=None, text="x")


def test_a_publish_accepted_without_an_id_is_a_bad_response_not_a_success():
    with pytest.raises(BadResponse, match="comment_info.comment_id"):
        parsers.published_comment({"status_code": 0, "status_msg": ""}, content_id="w", parent_id=None, text="x")


# ---- DMs -----------------------------------------------------------------------------------
def test_user_detail_gives_peers_keyed_by_sec_uid():
    parsed = parsers.parse_user_detail(body("creator_im_user_detail.json"))
    assert [(p.sec_uid[:29], p.nickname, p.short_id) for p in parsed.peers] == [
        ("MS4wLjABAAAAFakeSecUid0001xxx", "测试用户01", "test0001"),
        ("MS4wLjABAAAAFakeSecUid0002xxx", "测试用户02", "20000002"),
        ("MS4wLjABAAAAFakeSecUid0003xxx", "测试用户03", "test_user_03")]
    assert len(parsed.peers[1].sec_uid) == 76
    assert parsed.peers[0].avatar == "https://example.invalid/avatar/1.jpg"
    assert not parsed.contents and not parsed.conversations


def test_chat_page_messages_drop_system_lines_and_find_the_peer():
    parsed = parsers.parse_chat_messages(body("page_state/creator_chat_messages.json"))
    assert [m["platform_message_id"] for m in parsed.messages] == [
        "7440000000000001000", "7440000000000001100", "7440000000000001200"]
    hello, ours, emoji = parsed.messages
    assert hello["created_at"] == datetime(2025, 1, 15, 2, 0, 0, 123000, tzinfo=timezone.utc)
    assert hello["direction"] == "in" and hello["sender_name"] == "测试用户01"
    assert ours["direction"] == "out" and ours["sender_id"] == SELF_UID
    assert emoji["text"] == "[呲牙]"
    assert parsed.self_uid == SELF_UID
    assert parsed.conversations == [{
        "platform_conversation_id": "0:1:100000000001:1000000000000001", "peer_id": "100000000001",
        "peer_name": "测试用户01", "peer_avatar": "https://example.invalid/avatar/1.jpg"}]
    valid(MessageRecord, parsed.messages)
    valid(ConversationRecord, parsed.conversations)


def test_im_store_conversations_their_peers_and_pushed_messages():
    parsed = parsers.parse_im_store(body("page_state/im_store.json"))
    assert parsed.self_uid == SELF_UID  # found from the participants' protobuf Longs
    peers = {c["platform_conversation_id"]: (c["peer_id"], c["peer_name"]) for c in parsed.conversations}
    assert peers == {"0:1:100000000003:1000000000000001": ("100000000003", "测试用户03"),
                     "0:1:1000000000000001:2000000000000002": ("2000000000000002", "测试用户02"),
                     "0:1:100000000001:1000000000000001": ("100000000001", "测试用户01")}
    by_id = {m["platform_message_id"]: m for m in parsed.messages}
    assert by_id["7440000000000004000"]["direction"] == "out"  # sent by our uid, no isFromMe here
    assert by_id["7440000000000003000"]["text"] == "请问周末营业吗？"  # content was a JSON string
    assert by_id["7440000000000003000"]["sender_name"] == "测试用户02"
    valid(MessageRecord, parsed.messages)


def test_the_same_message_from_page_state_and_im_store_has_one_id():
    chat = parsers.parse_chat_messages(body("page_state/creator_chat_messages.json")).messages
    store = parsers.parse_im_store(body("page_state/im_store.json")).messages
    a = next(m for m in chat if m["platform_message_id"] == "7440000000000001000")
    b = next(m for m in store if m["platform_message_id"] == "7440000000000001000")
    assert (a["platform_conversation_id"], a["created_at"], a["text"]) == (
        b["platform_conversation_id"], b["created_at"], b["text"])


def test_protobuf_longs():
    assert parsers.long_value({"low": 1215752195, "high": 23, "unsigned": False}) == 100000000003
    assert parsers.long_value({"low": -1530494975, "high": 232830, "unsigned": False}) == int(SELF_UID)
    assert parsers.long_value({"low": -1, "high": -1, "unsigned": False}) == -1


# ---- malformed and partial bodies ----------------------------------------------------------
@pytest.mark.parametrize("raw, content_type, complaint", [
    ("<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "text/html", "HTML page"),
    ('<html><script>location="/login"</script>', "application/json", "HTML page"),
    ('{"status_code":0,"item_info_list":[{"item_id_plain":"74000', "application/json", "truncated JSON"),
    ('{"status_code":0,,}', "application/json", "malformed JSON"),
    ("", "application/json", "empty"),
    ("[1, 2]", "application/json", "expected a JSON object"),
    (b"\xff\xfe{", "application/json", "not UTF-8"),
])
def test_bodies_that_are_not_json_objects_are_bad_responses(raw, content_type, complaint):
    with pytest.raises(BadResponse, match=complaint) as caught:
        parsers.decode_body("creator/item/list", raw, content_type)
    assert caught.value.code == "bad_response"


def test_a_non_zero_status_is_refused_with_douyins_message():
    with pytest.raises(ApiRefused, match="status_code 2154: 系统繁忙"):
        parsers.parse_web_comments({"status_code": 2154, "status_msg": "系统繁忙"})


def test_too_fast_leaves_the_account_alone_for_half_an_hour():
    """Pressing on after "too fast" is how accounts get restricted: the monitor waits."""
    with pytest.raises(RateLimited, match="操作太频繁") as caught:
        parsers.parse_web_comments({"status_code": 2154, "status_msg": "操作太频繁，请稍后再试"})
    assert caught.value.retry_after_s == 30 * 60
    with pytest.raises(ReplyBlocked):  # a send it refuses is the operator's to retry, as before
        parsers.published_comment({"status_code": 2154, "status_msg": "操作太频繁"}, content_id="1", parent_id="2",
                                  text="x")


def test_douyin_is_polled_at_a_creator_s_pace_by_default():
    from app.platforms.douyin.settings import DouyinSettings

    pace = DouyinSettings()
    assert (pace.poll_interval_min_s, pace.poll_interval_max_s, pace.quiet_hours) == (45.0, 90.0, "")


def test_a_logged_out_status_is_a_session_expiry():
    with pytest.raises(SessionExpired, match="用户未登录"):
        parsers.parse_item_list({"status_code": 8, "status_msg": "用户未登录"})


@pytest.mark.parametrize("message, error", [
    ("请完成安全验证后重试", NeedsVerification),  # the account is held for a check
    ("账号已被封禁", AccountBlocked),
])
def test_risk_control_answers_hold_the_account(message, error):
    with pytest.raises(error, match=message):
        parsers.parse_janus_work_list({"status_code": 2053, "status_msg": message})
    with pytest.raises(error):  # also when it answers a send: no reply goes to a held account
        parsers.published_comment({"status_code": 2053, "status_msg": message}, content_id="1", parent_id="2",
                                  text="x")


def test_a_body_without_its_list_or_status_is_a_bad_response():
    with pytest.raises(BadResponse, match="no 'comments'"):
        parsers.parse_web_comments({"status_code": 0, "cursor": 0})
    with pytest.raises(BadResponse, match="no status_code"):
        parsers.parse_item_list({"item_info_list": []})
    with pytest.raises(BadResponse, match="not a list"):
        parsers.parse_item_list({"status_code": 0, "item_info_list": {"a": 1}})


def test_null_lists_mean_no_items():
    assert len(parsers.parse_web_comments({"status_code": 0, "comments": None, "has_more": 0})) == 0


def test_items_missing_fields_are_skipped_by_name_and_the_rest_kept():
    raw = body("web_comment_list_select.json")
    del raw["comments"][0]["cid"]
    raw["comments"][1]["create_time"] = "yesterday"
    raw["comments"][2] = "not an object"
    parsed = parsers.parse_web_comments(raw)
    assert [c["platform_comment_id"] for c in parsed.comments] == ["7410000000000000001"]
    assert len(parsed.problems) == 3
    assert "missing 'cid'" in parsed.problems[0] and "yesterday" in parsed.problems[1]


def test_a_bad_display_time_skips_the_work_instead_of_guessing():
    raw = body("creator_item_list.json")
    raw["item_info_list"][0]["create_time"] = "刚刚"
    parsed = parsers.parse_item_list(raw)
    assert len(parsed.contents) == 3 and "发布于" in parsed.problems[0]


def test_ids_are_never_floats_or_booleans():
    for bad in (7.4e18, True, None, "", "0"):
        with pytest.raises(parsers.ItemError):
            parsers.platform_id(bad, "cid")
    assert parsers.platform_id(7410000000000000003, "cid") == "7410000000000000003"


def test_json_decoding_keeps_big_integers_exact():
    raw = parsers.decode_body("x", '{"status_code":0,"nid":7430000000000000003}')
    assert raw["nid"] == 7430000000000000003 and json.dumps(raw["nid"]) == "7430000000000000003"


# ---- endpoint routing ----------------------------------------------------------------------
@pytest.mark.parametrize("url, name", [
    ("https://creator.douyin.com/aweme/v1/creator/item/list/?cursor=&aid=2906&msToken=x&a_bogus=y", "item_list"),
    ("https://creator.douyin.com/aweme/v1/creator/item/list?cursor=", "item_list"),
    ("https://creator.douyin.com/janus/douyin/creator/pc/work_list?status=0&count=12&max_cursor=0", "janus_work_list"),
    ("https://creator.douyin.com/aweme/v1/creator/comment/list/?cursor=0&item_id=%40j", "creator_comment_list"),
    ("https://creator.douyin.com/aweme/v1/creator/comment/reply/list/?comment_id=%40j", "creator_comment_reply_list"),
    ("https://creator.douyin.com/web/api/third_party/aweme/api/comment/read/aweme/v1/web/comment/list/select/?aweme_id=1",
     "web_comment_list"),
    ("https://creator.douyin.com/web/api/third_party/aweme/api/comment/read/aweme/v1/web/comment/list/reply/?comment_id=1",
     "web_comment_reply_list"),
    ("https://www.douyin.com/aweme/v1/web/notice/detail/?id_list=x", "notice_detail"),
    ("https://creator.douyin.com/aweme/v1/creator/im/user_detail/?aid=2906", "im_user_detail"),
    ("https://creator.douyin.com/aweme/v1/creator/comment/reply/?aid=2906", "comment_reply_publish"),
    ("https://creator.douyin.com/aweme/v1/web/aweme/detail/?aweme_id=1", None),  # other people's videos
    ("https://evil.example/aweme/v1/creator/item/list/", None),
])
def test_response_urls_map_to_their_endpoint(url, name):
    assert API.endpoint_of(url) == name


def test_comment_rows_page_ids_link_by_text_and_author_only():
    v2 = parsers.parse_web_comments(body("web_comment_list_select.json")).comments
    rows = [parsers.page_comment({"cid": "@i/row2", "text": "这个地方看起来很不错[比心]",
                                  "user": {"nickname": "测试用户02"}}, "7400000000000000001"),
            parsers.page_comment({"cid": "@i/other", "text": "这个地方看起来很不错[比心]",
                                  "user": {"nickname": "测试用户09"}}, "7400000000000000001")]
    assert parsers.link_comment_aliases(rows, v2, "page", by_time=False) == 1
    assert next(c for c in v2 if c["platform_comment_id"] == "7410000000000000002")["aliases"] == {"page": "@i/row2"}
