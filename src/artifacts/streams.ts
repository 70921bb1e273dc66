// Small steps over a byte stream, so an upload is looked at as it passes and never held whole: its
// first bytes (magic number), and a digest of everything (for the audit log).
import { createHash } from 'node:crypto';

/** Reads at least `bytes` bytes (or all there is) from the front of a stream, and the rest of it. */
export async function readHead(source: AsyncIterable<Buffer>, bytes: number): Promise<{ head: Buffer; rest: AsyncIterator<Buffer> }> {
  const rest = source[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < bytes) {
    const next = await rest.next();
    if (next.done) break;
    chunks.push(next.value);
    length += next.value.length;
  }
  return { head: Buffer.concat(chunks), rest };
}

export async function* prepend(head: Buffer, rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  if (head.length > 0) yield head;
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield next.value;
  }
}

/** Passes the stream through unchanged while hashing it; `digest()` is valid once it has ended. */
export function sha256Through(source: AsyncIterable<Buffer>): { stream: AsyncGenerator<Buffer>; digest(): string } {
  const hash = createHash('sha256');
  let digest: string | undefined;
  async function* stream(): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      hash.update(chunk);
      yield chunk;
    }
    digest = hash.digest('hex');
  }
  return {
    stream: stream(),
    digest() {
      if (digest === undefined) throw new Error('sha256Through: the stream has not ended');
      return digest;
    },
  };
}
