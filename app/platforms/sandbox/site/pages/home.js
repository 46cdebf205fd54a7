// The creator's home: who is logged in (the adapter reads the login outcome from here).
"use strict";

document.addEventListener("DOMContentLoaded", async () => {
  const body = await Sbx.api("/api/me");
  if (body.status_code !== 0) return Sbx.setState("error", body.status_msg);
  const user = body.user;
  const profile = document.getElementById("profile");
  Object.assign(profile.dataset, {uid: user.uid, nickname: user.nickname, avatar: user.avatar_url, uniqueId: user.unique_id});
  const info = Sbx.el("div");
  info.append(Sbx.el("h1", "name", user.nickname), Sbx.el("p", "unique_id", "抖音号：" + user.unique_id));
  profile.append(Sbx.avatar(user.avatar_url), info);
  Sbx.setState("ready");
});
