// The QR login card: get a QR ticket, show it, poll its status; the code refreshes itself
// when it expires. A confirmed ticket goes to /login/complete, which sets the session.
"use strict";

const POLL_MS = 500;
let token = null;
let pollTimer = null;

function $(id) { return document.getElementById(id); }

function showStatus(state, text) {
  const status = $("login-status");
  status.dataset.state = state;
  status.textContent = text;
}

function showError(text) {
  $("login-error").textContent = text;
  $("login-error").hidden = !text;
}

async function newQr() {
  clearTimeout(pollTimer);
  showError("");
  $("qr-retry").hidden = true;
  $("sms-box").hidden = true;
  const response = await fetch("/api/login/qr", {method: "POST"});
  const body = await response.json();
  token = body.token;
  const qr = $("qr");
  qr.src = "data:image/png;base64," + body.qr_png_base64;
  qr.dataset.token = body.token;
  qr.dataset.url = body.qr_url;
  qr.dataset.expiresAt = String(body.expires_at_ms);
  $("qr-link").href = body.qr_url;
  $("qr-link").textContent = body.qr_url;
  showStatus("waiting", "请使用手机扫码 Waiting for a scan");
  document.body.dataset.state = "ready";
  pollTimer = setTimeout(poll, POLL_MS);
}

async function poll() {
  let body;
  try {
    const response = await fetch("/api/login/status?token=" + encodeURIComponent(token));
    body = await response.json();
  } catch (err) {
    pollTimer = setTimeout(poll, POLL_MS * 2);
    return;
  }
  if (body.status_code !== 0) {  // the ticket is gone (forgotten after expiry): start over
    newQr();
    return;
  }
  switch (body.status) {
    case "expired":
      newQr();
      return;
    case "scanned":
      showStatus("scanned", "已扫码，请在手机上确认 Scanned: confirm on your phone");
      break;
    case "sms_required":
      if ($("sms-box").hidden) {
        showStatus("sms_required", "需要短信验证 SMS verification required");
        $("sms-box").hidden = false;
        $("sms-code").focus();
      }
      break;
    case "confirmed": {
      showStatus("confirmed", "登录成功 Logged in");
      const next = new URLSearchParams(location.search).get("next") || "/creator/home";
      location.href = "/login/complete?token=" + encodeURIComponent(token) + "&next=" + encodeURIComponent(next);
      return;
    }
    case "failed":
      showStatus("failed", "登录失败 Login failed");
      showError(body.reason || "登录失败 Login failed");
      $("qr-retry").hidden = false;
      return;
  }
  pollTimer = setTimeout(poll, POLL_MS);
}

async function submitSms() {
  const response = await fetch("/api/login/sms", {
    method: "POST", headers: {"content-type": "application/json"},
    body: JSON.stringify({token, code: $("sms-code").value}),
  });
  const body = await response.json();
  $("sms-code").value = "";
  if (body.status_code !== 0) {
    showError(body.status_msg);
    return;
  }
  showError("");
  $("sms-box").hidden = true;
  clearTimeout(pollTimer);
  poll();  // confirmed (or failed): act on it now
}

document.addEventListener("DOMContentLoaded", () => {
  $("sms-submit").addEventListener("click", submitSms);
  $("qr-retry").addEventListener("click", newQr);
  const error = new URLSearchParams(location.search).get("error");
  if (error) showError(error);
  newQr();
});
