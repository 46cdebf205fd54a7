// Many IM clients at once, for bench/server.py: opens N socket.io-client sockets to the URL
// (its query carries ?token=) and, for each {"hint": topicId, "t0": ms} line on stdin, reports
// how long after t0 (the moment the message was stored) every socket saw that topic's
// monitor:new_message_hint. Prints one JSON line per report: {connected} once, then
// {received, p50, p99, max} per hint.
const { io } = require("socket.io-client");
const readline = require("readline");

const [url, countText] = process.argv.slice(2);
const count = Number(countText);
const sockets = [];
const waiting = new Map();  // topicId -> {t0, times: []}
let connected = 0;
let failed = 0;

function open(i) {
  const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false, timeout: 60000 });
  socket.on("connect", () => {
    connected += 1;
    if (connected + failed === count) report({ connected, failed });
  });
  socket.on("connect_error", (err) => {
    failed += 1;
    if (failed <= 3) process.stderr.write(`connect_error ${err.message}\n`);
    if (connected + failed === count) report({ connected, failed });
  });
  socket.on("monitor:new_message_hint", (data) => {
    const entry = waiting.get(data.topicId || data.conversationId);
    if (entry) entry.times.push(Date.now() - entry.t0);
  });
  sockets.push(socket);
}

function report(data) { process.stdout.write(JSON.stringify(data) + "\n"); }

async function openAll() {
  for (let i = 0; i < count; i += 1) {
    open(i);
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));  // no thundering herd
  }
}

function percentile(sorted, p) { return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : null; }

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const command = JSON.parse(line);
  if (command.quit) { for (const s of sockets) s.close(); process.exit(0); }
  const entry = { t0: command.t0, times: [] };
  waiting.set(command.hint, entry);
  const started = Date.now();
  const check = setInterval(() => {
    if (entry.times.length >= connected || Date.now() - started > 20000) {
      clearInterval(check);
      const sorted = entry.times.slice().sort((a, b) => a - b);
      report({ received: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99),
               max: sorted[sorted.length - 1] ?? null });
    }
  }, 10);
});

openAll();
