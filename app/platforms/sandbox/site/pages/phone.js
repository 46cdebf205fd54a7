// The "phone" that scans a QR code: opening the URL scans it; Confirm logs the browser in as
// the named creator. When the site asks for SMS verification, the code "arrives" here.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";

function $(id) { return document.getElementById(id); }

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body),
  });
  return response.json();
}

async function confirmLogin() {
  $("confirm").disabled = true;
  const body = await post("/api/phone/confirm", {token, creator: $("creator-name").value});
  if (body.status_code !== 0) {
    $("phone-error").textContent = body.status_msg;
    $("confirm").disabled = false;
    return;
  }
  $("confirm-box").hidden = true;
  if (body.status === "sms_required") {
    $("phone-status").textContent = "已确认，请在电脑上输入验证码 Confirmed: type this code on the computer";
    $("sms-code-display").textContent = "【沙盒】验证码 SMS code: " + body.sms_code;
    $("sms-code-display").dataset.code = body.sms_code;
    $("sms-code-display").hidden = false;
  } else if (body.status === "failed") {
    $("phone-status").textContent = "登录失败 Login failed";
    $("phone-error").textContent = body.reason || "";
  } else {
    $("phone-status").textContent = "已确认，电脑端正在登录 Confirmed: the computer is logging in";
  }
  document.body.dataset.state = "ready";
}

document.addEventListener("DOMContentLoaded", async () => {
  $("confirm").addEventListener("click", confirmLogin);
  const body = await post("/api/phone/scan", {token});
  if (body.status_code !== 0) {
    $("phone-status").textContent = "二维码无效 This QR code can't be used";
    $("phone-error").textContent = body.status_msg;
  } else {
    $("phone-status").textContent = "扫码成功 Scanned";
    $("confirm-box").hidden = false;
  }
  document.body.dataset.state = "ready";
});
