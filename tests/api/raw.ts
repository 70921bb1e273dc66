// Raw TCP clients for the HTTP edge tests: bytes no HTTP client library would send (half-sent
// requests, malformed headers), and whether the server closed the connection.
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface RawExchange {
  /** Everything the server sent. */
  text: string;
  /** Status code of the first response line, or 0. */
  status: number;
  /** Parsed JSON body of the first response, if any. */
  body: { error?: { code?: string; message?: string; detail?: string; request_id?: string } } | undefined;
  /** The server closed the connection (end or reset) within the wait. */
  closed: boolean;
  /** Milliseconds from the last write until the server closed it (or the wait ended). */
  closedAfterMs: number;
}

export function portOf(base: string): number {
  return Number(new URL(base).port);
}

/** Sends `chunks` in order, then waits up to `waitMs` for the server to close the connection. */
export async function rawExchange(port: number, chunks: readonly (string | Buffer)[], waitMs: number): Promise<RawExchange> {
  const socket: Socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  socket.on('error', () => undefined); // a reset after the answer is one way of closing
  const closed = new Promise<boolean>((resolve) => {
    socket.once('close', () => resolve(true));
    setTimeout(() => resolve(false), waitMs).unref();
  });
  for (const chunk of chunks) socket.write(chunk);
  const sentAt = Date.now();
  const wasClosed = await closed;
  const closedAfterMs = Date.now() - sentAt;
  socket.destroy();
  return { text, status: statusOf(text), body: bodyOf(text), closed: wasClosed, closedAfterMs };
}

function statusOf(text: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
}

function bodyOf(text: string): RawExchange['body'] {
  const start = text.indexOf('\r\n\r\n');
  if (start < 0) return undefined;
  try {
    return JSON.parse(text.slice(start + 4)) as RawExchange['body'];
  } catch {
    return undefined;
  }
}

/** Open descriptors of this process (the service runs in it; flood clients run in a child). */
export function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

/**
 * One request on a connection of its own (no keep-alive pool): what a client arriving during a flood
 * goes through, accept and the strangers' cap included.
 */
export function freshCall(port: number, method: string, path: string, options: { key?: string; json?: unknown } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = options.json === undefined ? undefined : JSON.stringify(options.json);
    const headers: Record<string, string> = { connection: 'close' };
    if (options.key) headers['x-api-key'] = options.key;
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const req = request({ host: '127.0.0.1', port, method, path, agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}
