// An ORIGINAL Node worker (HISCRM-IM's worker, PROTOCOL.md §2) as far as the master sees it:
// the token in the URL's query, join_room on connect, enveloped messages (register without
// `protocol`, heartbeat, a worker:data:sync snapshot with camelCase records), the login
// relay's status events with `cookies`, and reply results without error_class.
// Usage: node original_worker.js <master url> <token> <worker id> <account id>
// Prints one JSON line per thing it received; the Python test reads them.
const { io } = require("socket.io-client");

const [url, token, workerId, accountId] = process.argv.slice(2);
const socket = io(`${url}/worker?token=${encodeURIComponent(token)}`, { transports: ["websocket"], reconnection: false });
const say = (what, data) => process.stdout.write(JSON.stringify({ what, data }) + "\n");
const envelope = (type, payload) => ({ type, version: "v1", payload, timestamp: Date.now() });
const send = (type, payload) => socket.emit("message", envelope(type, payload));

socket.on("connect_error", (err) => { say("connect_error", err.message); process.exit(2); });
socket.on("connect", () => {
  socket.emit("join_room", { room: `worker:${workerId}`, workerId }, (ack) => {
    say("joined", ack);
    send("worker:register", { worker_id: workerId, host: "127.0.0.1", port: 4000, version: "1.0.0",
                              capabilities: ["sandbox"], max_accounts: 10 });
  });
});

socket.on("message", (msg) => {
  say(msg.type, msg.payload);
  if (msg.type === "worker:register:ack") {
    const asked = Date.now();  // the original asks for known ids and waits up to 10 s
    socket.timeout(10000).emit("worker:get_history_ids", { account_id: accountId }, (err, ids) =>
      say("history_ids", { err: err ? String(err) : null, ids, waited_ms: Date.now() - asked }));
    send("worker:heartbeat", { worker_id: workerId, status: "online", active_tasks: 1, memory_usage: 210, cpu_usage: 4 });
  } else if (msg.type === "worker:heartbeat:ack") {
    const now = Date.now();
    send("worker:data:sync", { accountId, platform: "sandbox", timestamp: now, snapshot: { platform: "sandbox", data: {
      contents: [{ id: `cont_${accountId}_v1`, accountId, platform: "sandbox", contentId: "v1", type: "video",
                   title: "Spring collection", publishTime: now - 86400000, viewCount: 120, likeCount: 7 }],
      comments: [{ id: `comm_${accountId}_c1`, accountId, platform: "sandbox", commentId: "c1", contentId: "v1",
                   authorId: "fan-1", authorName: "Fan One", content: "Love the red one", isAuthorReply: false,
                   createdAt: Math.floor(now / 1000) - 60, isRead: false, likeCount: 2 }],
      conversations: [{ id: `conv_${accountId}_peer-9`, accountId, conversationId: "peer-9", userId: "peer-9",
                        userName: "Mei" }],
      messages: [{ id: `msg_${accountId}_m1`, accountId, messageId: "m1", conversationId: "peer-9", senderId: "peer-9",
                   senderName: "Mei", content: "Do you ship abroad?", direction: "inbound", createdAt: now - 30000,
                   type: "text", isRead: false }],
      notifications: [{ notificationId: "n1", type: "system", title: "hello" }],
    } } });
  }
});

socket.on("master:login:start", (start) => {
  say("master:login:start", start);
  const status = (body) => socket.emit("worker:login:status", { session_id: start.session_id,
    account_id: start.account_id, timestamp: Date.now(), ...body });
  // A 1x1 PNG, as the original sends the page's QR image.
  const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
  status({ status: "qrcode_ready", qr_code_data: `data:image/png;base64,${png}`,
           expires_at: Math.floor(Date.now() / 1000) + 120, login_method: "qrcode" });
  setTimeout(() => status({ status: "scanning", message: "scanned" }), 50);
  setTimeout(() => status({ status: "success", user_info: { nickname: "Original Creator", platform_user_id: "orig-uid-1" },
                            cookies: [{ name: "sessionid", value: "from-node", domain: "127.0.0.1", path: "/" }],
                            cookies_valid_until: Math.floor(Date.now() / 1000) + 86400 }), 100);
});

socket.on("master:reply:request", (request) => {
  say("master:reply:request", request);
  socket.emit("worker:reply:result", { reply_id: request.reply_id, request_id: request.request_id,
    platform: request.platform, account_id: request.account_id, status: "success",
    platform_reply_id: `${request.target_id}_${Date.now()}`, timestamp: Date.now() });
});

process.stdin.on("end", () => { socket.close(); process.exit(0); });
process.stdin.resume();
