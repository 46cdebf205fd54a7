"""A crawl of the routed creator centre stored through the real DataStore (SQLite), the
session expiry it meets, bad bodies, and a page whose markup changed."""
from __future__ import annotations

import base64
import copy
from datetime import datetime, timezone
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select

from sandbox.harness import MemoryState

from app.engine.bus import EventBus
from app.engine.platform import AccountBlocked, MonitorIO, SessionExpired, SessionStatus
from app.engine.store.datastore import DataStore
from app.engine.store.db import Database
from app.engine.store.models import (
    Account,
    Comment,
    Content,
    Conversation,
    DirectMessage,
    RecordAlias,
)
from app.platforms.douyin.errors import BadResponse, PageChanged

from .conftest import ACCOUNT

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90), pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module")
async def store(tmp_path):
    db = Database(f"sqlite:///{(tmp_path / 'hiscrm.db').as_posix()}")
    await db.upgrade()
    await db.write(lambda s: s.add(Account(id=ACCOUNT.id, platform="douyin", display_name=ACCOUNT.display_name)))
    yield DataStore(db, EventBus())
    await db.close()


class KeptBatches:
    """A sink that only keeps the batches; `io` is the MonitorIO around it (the platform
    state in a dict, the session reports in `sessions`)."""

    def __init__(self) -> None:
        self.batches = []
        self.sessions: list[tuple[SessionStatus, str]] = []
        self.io = MonitorIO(self, MemoryState(), lambda status, message: self.sessions.append((status, message)))

    async def __call__(self, batch) -> None:
        self.batches.append(batch)


class StoringSink(KeptBatches):
    """The engine's sink: each batch goes through the DataStore before the call returns."""

    def __init__(self, store: DataStore) -> None:
        super().__init__()
        self.store = store
        self.results = []

    async def __call__(self, batch) -> None:
        await super().__call__(batch)
        self.results.append(await self.store.ingest(batch))


async def rows(store, model, key):
    return await store.db.read(lambda s: {getattr(r, key): r for r in s.scalars(select(model))})


async def test_a_poll_stores_the_works_and_the_comments_of_works_with_comments(platform, logged_in_page, store, site):
    sink = StoringSink(store)
    await platform.watch(logged_in_page, ACCOUNT, sink.io)
    await platform.poll(logged_in_page, ACCOUNT, sink.io)
    assert all(not r.rejected for r in sink.results)
    works = await rows(store, Content, "platform_content_id")
    assert set(works) == {"7400000000000000001", "7400000000000000002", "7400000000000000003"}
    assert works["7400000000000000003"].publish_at == datetime(2025, 1, 12, 3, 0, tzinfo=timezone.utc)
    assert works["7400000000000000003"].stats["play_count"] == 2045
    comments = await rows(store, Comment, "platform_comment_id")
    # work 0001's four comments and the thread of 0002 (opened with "查看2条回复")
    assert {"7410000000000000001", "7410000000000000004", "7420000000000000002"} <= set(comments)
    assert comments["7420000000000000002"].parent_platform_comment_id == "7420000000000000001"
    assert comments["7410000000000000002"].text == "这个地方看起来很不错[比心]"
    assert comments["7410000000000000003"].direction == "out"
    # DMs: every conversation in the virtualised list (测试用户01 only after scrolling),
    # named from the chat header and the peers' profiles
    messages = await rows(store, DirectMessage, "platform_message_id")
    assert {"7440000000000001000", "7440000000000001100", "7440000000000003000", "7440000000000004000"} <= set(messages)
    assert "7440000000000000200" not in messages  # the "我们已互相关注" system line
    assert messages["7440000000000001100"].direction == "out"
    conversations = await rows(store, Conversation, "platform_conversation_id")
    assert conversations["0:1:100000000001:1000000000000001"].peer_name == "测试用户01"
    assert conversations["0:1:100000000003:1000000000000001"].peer_id == "100000000003"
    # each comment row's own page id (React props) is kept as the comment's "page" alias
    aliases = await store.db.read(lambda s: {a.platform_id: a.alias for a in s.scalars(select(RecordAlias))
                                             if a.system == "page"})
    assert aliases["7410000000000000002"] == "@i/" + base64.b64encode(b"7410000000000000002").decode()
    # the picker was used for every work with comments, each opened once
    opened = [u for u in site.requests if "/comment/list/select/" in u]
    assert len(opened) == 3

    # Nothing moved: the next crawl loads the works list only.
    site.requests.clear()
    await platform.poll(logged_in_page, ACCOUNT, sink.io)
    assert not [u for u in site.requests if "/comment/list/" in u]
    assert len(sink.results[-1:]) == 1 and sink.results[-1].added_message_ids == []


async def test_pages_on_the_v1_apis_store_comments_under_the_numeric_work_id(platform, logged_in_page, store, site):
    """The V1 comment list names its work only by the encrypted item_id of the request."""
    site.api_v1 = True
    await platform.poll(logged_in_page, ACCOUNT, StoringSink(store).io)
    works = await rows(store, Content, "platform_content_id")
    assert set(works) == {f"740000000000000000{i}" for i in range(1, 5)}
    assert works["7400000000000000001"].publish_at == datetime(2025, 1, 10, 2, 0, tzinfo=timezone.utc)
    comments = await rows(store, Comment, "platform_comment_id")
    v1_ids = [c for c in comments if c.startswith("@jFAKE")]
    assert len(v1_ids) == 7  # four comments and the third one's three replies
    assert {comments[c].platform_content_id for c in v1_ids} == {"7400000000000000001"}
    parent = next(c for c in v1_ids if c.startswith("@jFAKEcmt0003/"))
    replies = [c for c in v1_ids if c.startswith("@jFAKErpl")]
    assert {comments[c].parent_platform_comment_id for c in replies} == {parent}
    assert comments[next(c for c in v1_ids if c.startswith("@jFAKEcmt0001/"))].text == "[赞][赞]拍得真好[鼓掌]"


async def test_the_works_list_is_read_page_by_page_while_it_has_more(platform, logged_in_page, store, site):
    site.works_page_size = 1
    sink = StoringSink(store)
    await platform.poll(logged_in_page, ACCOUNT, sink.io)
    assert len(await rows(store, Content, "platform_content_id")) == 3
    pages = [u for u in site.requests if "/janus/" in u and "content/manage" not in u]
    assert [u.split("max_cursor=")[1].split("&")[0] for u in pages][:3] == ["0", "1", "2"]


async def test_a_crawl_reads_at_most_max_works_newest_first(platform, logged_in_page, store, site):
    site.works_page_size = 1
    platform.max_works = 2
    await platform.poll(logged_in_page, ACCOUNT, StoringSink(store).io)
    works_page = site.requests[:next(i for i, u in enumerate(site.requests) if "/interactive/comment" in u)]
    assert [u.split("max_cursor=")[1].split("&")[0] for u in works_page if "/janus/" in u] == ["0", "1"]
    # only the two newest works' comments were opened
    opened = {u.split("aweme_id=")[1].split("&")[0] for u in site.requests if "/comment/list/select/" in u}
    assert opened == {"7400000000000000003", "7400000000000000002"}


async def test_a_works_comments_are_read_page_by_page_as_the_list_scrolls(platform, logged_in_page, store, site):
    site.comments_page_size = 1
    await platform.poll(logged_in_page, ACCOUNT, StoringSink(store).io)
    stored = await rows(store, Comment, "platform_comment_id")
    assert {f"741000000000000000{i}" for i in range(1, 5)} <= set(stored)
    cursors = [u.split("cursor=")[1].split("&")[0] for u in site.requests if "/comment/list/select/?aweme_id=7400000000000000001" in u]
    assert cursors == ["0", "1", "2", "3"]


async def test_a_login_redirect_during_a_poll_is_a_session_expiry(platform, logged_in_page, site, account):
    site.sessions.clear()
    with pytest.raises(SessionExpired, match="login"):
        await platform.poll(logged_in_page, account, KeptBatches().io)


async def test_an_api_saying_logged_out_is_a_session_expiry(platform, logged_in_page, site, account):
    site.api_logged_out = True
    with pytest.raises(SessionExpired, match="用户未登录"):
        await platform.poll(logged_in_page, account, KeptBatches().io)


async def test_a_truncated_works_body_fails_the_crawl_and_stores_no_work(platform, logged_in_page, account, context):
    async def truncated(route):
        await route.fulfill(status=200, content_type="application/json", body='{"status_code":0,"aweme_list":[{"aw')

    await context.route("https://creator.douyin.com/janus/**", truncated)
    sink = KeptBatches()
    with pytest.raises(BadResponse, match="truncated JSON"):
        await platform.poll(logged_in_page, account, sink.io)
    assert not [c for b in sink.batches for c in b.contents]  # the DMs read meanwhile are kept
    assert {m["platform_message_id"] for b in sink.batches for m in b.messages} >= {"7440000000000001000"}


async def test_what_was_read_before_a_changed_page_is_kept(platform, logged_in_page, account, site):
    site.comment_page_html = '<!doctype html><html><body><div role="tabpanel"></div></body></html>'
    sink = KeptBatches()
    with pytest.raises(PageChanged):
        await platform.poll(logged_in_page, account, sink.io)
    assert len([c for b in sink.batches for c in b.contents]) == 3  # the works list was fine
    # and the next crawl tries the comments again
    site.comment_page_html = None
    before = len(sink.batches)
    await platform.poll(logged_in_page, account, sink.io)
    assert [c for b in sink.batches[before:] for c in b.comments if c["platform_comment_id"] == "7410000000000000002"]


async def test_a_changed_comment_page_is_reported_with_a_snapshot(platform, logged_in_page, site, account, tmp_path):
    site.comment_page_html = ('<!doctype html><html><body><div role="tabpanel">'
                              '<button>挑选视频</button></div></body></html>')  # the button was renamed
    with pytest.raises(PageChanged, match="page changed: the 「选择作品」 button not found on comments") as caught:
        await platform.poll(logged_in_page, account, KeptBatches().io)
    folder = Path(caught.value.snapshot)
    assert folder.is_relative_to(tmp_path / "douyin" / "page-changes")
    assert "挑选视频" in (folder / "page.html").read_text(encoding="utf-8")
    assert (folder / "screenshot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- streamed, and continued from the account's state ------------------------------------
async def test_each_list_is_stored_as_it_is_read(platform, logged_in_page, account):
    sink = KeptBatches()
    await platform.poll(logged_in_page, account, sink.io)
    batches = sink.batches
    # the works list; each work opened (its picker fetches the works again); each conversation
    assert len(batches) == 1 + 3 + 3
    assert len(batches[0].contents) == 3 and not batches[0].comments
    assert {c["platform_content_id"] for c in batches[3].comments} == {"7400000000000000001"}
    assert [len(b.conversations) for b in batches[4:]] == [1, 1, 1]
    # what was read, kept in the account's state
    assert sink.io.state.values["works"] == {"7400000000000000001": 4, "7400000000000000002": 1,
                                             "7400000000000000003": 2}
    assert set(sink.io.state.values["dm_rows"]) == {"测试用户01", "测试用户02", "测试用户03"}
    item_ids = sink.io.state.values["item_ids"]
    assert {v for k, v in item_ids.items() if k.startswith("@jFAKEitem0001/")} == {"7400000000000000001"}


async def test_a_new_page_goes_on_from_the_saved_state(platform, logged_in_page, context, account, site):
    """Hibernation or a restart: the page (and the adapter's memory of it) is gone, the
    account's state is not, so nothing already read is opened again."""
    sink = KeptBatches()
    await platform.poll(logged_in_page, account, sink.io)
    await logged_in_page.close()
    site.requests.clear()
    before = len(sink.batches)
    fresh, platform = await context.new_page(), type(platform)()
    platform.pace_s = (0.0, 0.0)
    await platform.watch(fresh, account, sink.io)
    await platform.poll(fresh, account, sink.io)
    assert not [u for u in site.requests if "/comment/list/" in u]
    assert [b for b in sink.batches[before:] if b.comments or b.messages] == []


async def test_a_cycle_opens_at_most_max_works_per_poll_and_the_next_goes_on(platform, logged_in_page, account, site):
    platform.max_works_per_poll = 1
    sink = KeptBatches()
    opened = []
    for _ in range(4):
        site.requests.clear()
        await platform.poll(logged_in_page, account, sink.io)
        opened.append({u.split("aweme_id=")[1].split("&")[0] for u in site.requests if "/comment/list/select/" in u})
    assert opened == [{"7400000000000000003"}, {"7400000000000000002"}, {"7400000000000000001"}, set()]


async def test_a_risk_control_answer_blocks_the_account_at_once(platform, logged_in_page, account, site):
    site.api_refusal = {"status_code": 2154, "status_msg": "账号存在异常，功能已被限制"}
    sink = KeptBatches()
    await platform.watch(logged_in_page, account, sink.io)
    with pytest.raises(AccountBlocked, match="账号存在异常"):
        await platform.poll(logged_in_page, account, sink.io)
    assert sink.sessions and sink.sessions[0][0] is SessionStatus.BLOCKED  # told the pool as it came


# ---- deep paging: bounds limit a cycle, never what is stored --------------------------------
def comment_cursors(site, work_id="7400000000000000001"):
    return [int(u.split("cursor=")[1].split("&")[0]) for u in site.requests
            if f"/comment/list/select/?aweme_id={work_id}" in u]


async def test_a_comment_list_beyond_one_cycles_bound_is_read_deeper_each_cycle(platform, logged_in_page, account,
                                                                                 site):
    site.comments_page_size = 1  # work 0001's four comments, one page each
    platform.max_scrolls = 1  # one page beyond the first a cycle
    sink = KeptBatches()
    depths = []
    for _ in range(4):
        site.requests.clear()
        await platform.poll(logged_in_page, account, sink.io)
        depths.append(comment_cursors(site))
    assert depths == [[0, 1], [0, 1, 2], [0, 1, 2, 3], []]  # from the top each time (the page signs its fetches)
    stored = {c["platform_comment_id"] for b in sink.batches for c in b.comments}
    assert {f"741000000000000000{i}" for i in range(1, 5)} <= stored
    assert sink.io.state.values["works"]["7400000000000000001"] == 4  # read to its end, then counted read
    assert "work:7400000000000000001" not in sink.io.state.values or sink.io.state.values[
        "work:7400000000000000001"] is None


async def test_backfill_stops_at_max_comment_pages(platform, logged_in_page, account, site):
    site.comments_page_size = 1
    platform.max_scrolls, platform.max_comment_pages = 1, 2
    sink = KeptBatches()
    for _ in range(3):
        site.requests.clear()
        await platform.poll(logged_in_page, account, sink.io)
    assert comment_cursors(site) == []  # the third cycle has nothing left to read
    stored = {c["platform_comment_id"] for b in sink.batches for c in b.comments}
    assert "7410000000000000001" not in stored  # the oldest, beyond the limit


async def test_reply_threads_beyond_one_cycles_bound_are_opened_by_the_next(platform, logged_in_page, account, site):
    site.with_comment("7410000000000000004", reply_comment_total=3)  # a second thread on work 0001
    platform.max_scrolls = 1  # one thread a cycle
    sink = KeptBatches()
    opened = []
    for _ in range(3):
        site.requests.clear()
        await platform.poll(logged_in_page, account, sink.io)
        opened.append([u.split("comment_id=")[1].split("&")[0] for u in site.requests if "/comment/list/reply/" in u])
    assert opened == [["7410000000000000004"], ["7410000000000000002"], []]  # each thread once
    assert sink.io.state.values["works"]["7400000000000000001"] == 4


async def test_older_dm_history_is_read_further_back_each_cycle_until_its_start(platform, logged_in_page, account,
                                                                                 site):
    site.chat_page_size = 1  # a conversation opens at its newest message; each scroll up loads one more
    platform.max_scrolls = 1
    sink = KeptBatches()

    def stored():
        return {m["platform_message_id"] for b in sink.batches for m in b.messages}

    await platform.poll(logged_in_page, account, sink.io)
    assert {"7440000000000001100", "7440000000000001200"} <= stored()
    assert "7440000000000001000" not in stored()  # older than this cycle's bound
    await platform.poll(logged_in_page, account, sink.io)  # its list row did not change: opened for its history
    assert "7440000000000001000" in stored()
    for _ in range(4):
        if sink.io.state.values["dm_history"]["测试用户01"]["done"]:
            break
        await platform.poll(logged_in_page, account, sink.io)
    assert sink.io.state.values["dm_history"]["测试用户01"] == {"pages": 5, "done": True}


def older_conversations(site, count: int) -> list[str]:
    """`count` more conversations below the fixture's three, each a customer's one message
    (like 测试用户02's); their peers' names, top to bottom."""
    template = site.chat["conversations"][1]
    names = []
    for i in range(count):
        uid, name = f"20000000000001{i:02d}", f"老顾客{i:02d}"
        conversation = copy.deepcopy(template)
        conversation.update(id=f"0:1:1000000000000001:{uid}", nickname=name)
        message = conversation["messages"][-1]
        message.update(serverId=str(7440000000000007000 + i), sender=uid, conversationId=conversation["id"],
                       nickname=name)
        message["content"]["text"] = f"第{i}位老顾客的问题"
        site.chat["conversations"].append(conversation)
        names.append(name)
    return names


async def test_a_conversation_list_beyond_one_cycles_bound_is_read_deeper_each_cycle(platform, logged_in_page,
                                                                                       account, site):
    names = older_conversations(site, 6)  # nine rows; about one more comes into view per scroll
    platform.max_scrolls = 1
    sink = KeptBatches()

    def stored():
        return {c["peer_name"] for b in sink.batches for c in b.conversations}

    await platform.poll(logged_in_page, account, sink.io)
    assert names[-1] not in stored()  # beyond this cycle's bound
    for _ in range(10):
        if sink.io.state.values["dm_list"]["done"]:
            break
        await platform.poll(logged_in_page, account, sink.io)
    assert set(names) <= stored()  # the list was walked to its end over the cycles
    assert set(names) <= set(sink.io.state.values["dm_rows"])
    assert sink.io.state.values["dm_list"]["done"]


async def test_a_list_that_re_renders_late_after_each_scroll_still_opens_every_conversation(
        platform, logged_in_page, account, site):
    # On a busy machine the list's scroll event comes late, and every row is rendered anew
    # then: a row found before the re-render is gone when it is clicked.
    names = older_conversations(site, 6)
    site.chat_render_delay_ms = 400
    sink = KeptBatches()
    await platform.poll(logged_in_page, account, sink.io)
    assert set(names) <= {c["peer_name"] for b in sink.batches for c in b.conversations}


async def test_the_conversation_list_is_read_at_most_max_conversation_pages_deep(platform, logged_in_page,
                                                                                  account, site):
    names = older_conversations(site, 6)
    site.chat_render_delay_ms = 400  # and on a busy machine: the rows of the last position linger
    platform.max_scrolls, platform.max_conversation_pages = 1, 2
    sink = KeptBatches()
    for _ in range(4):
        await platform.poll(logged_in_page, account, sink.io)
    assert sink.io.state.values["dm_list"] == {"pages": 2, "done": True}
    stored = {c["peer_name"] for b in sink.batches for c in b.conversations}
    assert names[0] in stored and names[-1] not in stored  # the oldest, beyond the limit


# ---- one comment deleted and one written between cycles: the count stays the same ---------
def commented_lately(site, hours_ago: float = 1.0) -> None:
    """Work 0001's comments written in the last hours (newest first, a minute apart): an
    active work."""
    now = int(datetime.now(timezone.utc).timestamp() - hours_ago * 3600)
    for i, comment in enumerate(site.comments["comments"]):
        comment["create_time"] = now - 60 * i


def one_deleted_one_written(site, new_cids=("7410000000000000005",), deleted=("7410000000000000001",)) -> None:
    """Between two cycles the oldest comments were deleted and as many new ones written (on
    top, newest first): work 0001's count on the works list did not move, and no notice came."""
    for cid in deleted:
        site.remove_comment(cid)
    newest = site.comments["comments"][0]["create_time"]
    for i, cid in enumerate(new_cids):
        site.add_comment("7410000000000000004", cid)
        site.with_comment(cid, create_time=newest + 60 * (i + 1), text=f"新的评论{i}")


async def test_a_new_comment_on_an_unchanged_count_is_read_by_the_newest_page_check(platform, logged_in_page,
                                                                                      account, site):
    site.comments_page_size = 2
    commented_lately(site)
    sink = KeptBatches()
    await platform.poll(logged_in_page, account, sink.io)
    one_deleted_one_written(site)
    site.requests.clear()
    await platform.poll(logged_in_page, account, sink.io)  # checked a moment ago: not opened
    assert comment_cursors(site) == []

    platform.recheck_interval_s = 0  # as when the interval has passed
    site.requests.clear()
    await platform.poll(logged_in_page, account, sink.io)
    stored = {c["platform_comment_id"] for b in sink.batches for c in b.comments}
    assert "7410000000000000005" in stored
    assert comment_cursors(site) == [0]  # its newest page only: it reaches back to a comment read before
    assert [u for u in site.requests if "/comment/list/select/" in u and "aweme_id=7400000000000000001" not in u] == []
    assert not sink.io.state.values.get("due_works")


async def test_a_newest_page_of_new_comments_only_makes_the_work_due(platform, logged_in_page, account, site):
    site.comments_page_size = 1
    commented_lately(site)
    sink = KeptBatches()
    await platform.poll(logged_in_page, account, sink.io)
    one_deleted_one_written(site, new_cids=("7410000000000000005", "7410000000000000006"),
                            deleted=("7410000000000000001", "7410000000000000002"))
    platform.recheck_interval_s = 0
    site.requests.clear()
    await platform.poll(logged_in_page, account, sink.io)
    assert comment_cursors(site) == [0]  # the newest page shows only new comments: more may be below
    assert sink.io.state.values["due_works"] == ["7400000000000000001"]
    await platform.poll(logged_in_page, account, sink.io)
    stored = {c["platform_comment_id"] for b in sink.batches for c in b.comments}
    assert {"7410000000000000005", "7410000000000000006"} <= stored
    assert not sink.io.state.values["due_works"]


async def test_a_work_without_recent_comments_is_not_checked(platform, logged_in_page, account, site):
    commented_lately(site, hours_ago=24 * 30)  # its newest comment is a month old
    sink = KeptBatches()
    await platform.poll(logged_in_page, account, sink.io)
    platform.recheck_interval_s = 0
    site.requests.clear()
    await platform.poll(logged_in_page, account, sink.io)
    assert comment_cursors(site) == []
