// The original crm-pc-im client's conversation with the master, for the compatibility tests
// (tests/server/test_im_node_client.py): socket.io-client v4 connecting to the URL given
// (its query carries ?token=, as the client appends its configured URL's query), registering
// once, asking topics of every channel on each monitor:channels and messages of every topic
// on each monitor:topics (by topicId alone, as it does), re-asking topics on a hint.
// Every event received is printed as one JSON line; commands arrive on stdin as JSON lines:
// {"emit": name, "data": {...}} | {"drop": true} (the network goes away; it reconnects) | {"quit": true}.
const { io } = require("socket.io-client");
const readline = require("readline");

const url = process.argv[2];
const socket = io(url, { transports: ["websocket", "polling"], reconnectionDelay: 200, reconnectionDelayMax: 500 });
const print = (event, data) => process.stdout.write(JSON.stringify({ event, data }) + "\n");
let registered = false;

socket.on("connect", () => {
  print("connect", { id: socket.id, recovered: socket.recovered });
  if (!registered) {  // the original registers once and never again after a reconnect
    registered = true;
    socket.emit("monitor:register", { clientType: "monitor", clientId: `monitor_${Date.now()}_abcdefghi` });
  }
});
socket.on("connect_error", (err) => print("connect_error", { message: err.message }));
socket.on("disconnect", (reason) => print("disconnect", { reason }));
socket.onAny((event, data) => {
  print(event, data);
  if (event === "monitor:channels") {
    for (const channel of data.channels) socket.emit("monitor:request_topics", { channelId: channel.id });
  } else if (event === "monitor:topics") {
    for (const topic of data.topics) socket.emit("monitor:request_messages", { topicId: topic.id });
  } else if (event === "monitor:new_message_hint") {
    socket.emit("monitor:request_topics", { channelId: data.channelId });
  }
});

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const command = JSON.parse(line);
  if (command.emit) socket.emit(command.emit, command.data);
  if (command.drop) socket.io.engine.close();
  if (command.quit) { socket.close(); process.exit(0); }
});
