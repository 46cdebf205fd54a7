// The works list (newest first), fetched page by page.
"use strict";

let cursor = 0;

async function loadWorks() {
  Sbx.setState("loading");
  const body = await Sbx.api(`/api/works?cursor=${cursor}&count=12`);
  if (body.status_code !== 0) return Sbx.setState("error", body.status_msg);
  const list = document.getElementById("works");
  for (const work of body.works) {
    const row = Sbx.el("div", "work");
    row.dataset.workId = work.work_id;
    row.dataset.commentCount = String(work.comment_count);
    row.dataset.newestCommentId = work.newest_comment_id;
    const cover = Sbx.el("img", "cover");
    cover.src = work.cover_url;
    cover.alt = "";
    const link = Sbx.el("a", "title", work.title);
    link.href = "/creator/comments?work=" + encodeURIComponent(work.work_id);
    const info = Sbx.el("div");
    info.append(link, Sbx.el("div", "stats", `💬 ${work.comment_count}  ❤️ ${work.digg_count}  ▶ ${work.play_count}`),
                Sbx.time(work.create_time * 1000));
    row.append(cover, info);
    list.append(row);
  }
  cursor = body.cursor;
  document.getElementById("load-more").hidden = !body.has_more;
  Sbx.setState("ready");
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("load-more").addEventListener("click", loadWorks);
  loadWorks();
});
