// A stranger's connection flood, run as its own process so its descriptors are not the service's:
//   node flood.mjs <port> <half-sent POSTs> <unfinished headers> <hold ms>
// Half-sent POSTs send complete headers (no credentials, Content-Length 1 MiB) and never the body;
// unfinished headers send a request line and one header, never the blank line. Every socket is kept
// open as long as the server allows, up to <hold ms>. Prints one JSON line when all connects were
// attempted ({"phase":"opened",...}) and one at the end ({"phase":"done",...}) with, per kind, how many
// the server closed and the status codes it answered.
import { connect } from 'node:net';

const [port, halfSent, unfinished, holdMs] = process.argv.slice(2).map(Number);
const stats = {
  half_sent: { opened: 0, failed: 0, closed_by_server: 0, statuses: {} },
  unfinished_headers: { opened: 0, failed: 0, closed_by_server: 0, statuses: {} },
};
const sockets = new Set();
let closing = false;

function open(kind, payload) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const entry = stats[kind];
    let connected = false;
    let answered = '';
    socket.on('connect', () => {
      connected = true;
      entry.opened++;
      sockets.add(socket);
      socket.write(payload);
      resolve();
    });
    socket.on('data', (chunk) => {
      if (answered.length < 64) answered += chunk.toString('latin1');
    });
    socket.on('error', () => undefined); // 'close' follows and counts it
    socket.on('close', () => {
      sockets.delete(socket);
      if (!connected) {
        entry.failed++;
        resolve();
        return;
      }
      if (closing) return; // closed by this client at the end
      entry.closed_by_server++;
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answered)?.[1] ?? 'none';
      entry.statuses[status] = (entry.statuses[status] ?? 0) + 1;
    });
  });
}

const post = 'POST /api/v1/runs/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{"command":';
const partial = 'POST /api/v1/runs/commands HTTP/1.1\r\nHost: x\r\n';
const batch = 200;
const total = halfSent + unfinished;
for (let start = 0; start < total; start += batch) {
  const wave = [];
  for (let i = start; i < Math.min(total, start + batch); i++) wave.push(i < halfSent ? open('half_sent', post) : open('unfinished_headers', partial));
  await Promise.all(wave);
}
process.stdout.write(`${JSON.stringify({ phase: 'opened', ...stats })}\n`);
const deadline = Date.now() + holdMs;
while (sockets.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
const still_open = sockets.size;
closing = true;
for (const socket of sockets) socket.destroy();
process.stdout.write(`${JSON.stringify({ phase: 'done', still_open, ...stats })}\n`);
process.exit(0);
