// JSON request bodies, bounded while they arrive. Fastify's parser buffers the whole body and parses it on
// the event loop in one go: a 5 MB `files` map with 350,000 keys cost ~300 ms of main thread and +200 MB
// per request, and a handful of them in flight held /health for seconds (measured by the soak test).
// Here each chunk is scanned as it arrives (a byte loop: nesting depth and members, strings skipped), so a
// body with too many members or too deep is refused after the first chunk that shows it, before any
// object is built; only a body within the bounds is parsed, natively, with prototype-poisoning checks.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { ApiError } from './errors.js';

export interface JsonBodyLimits {
  maxBytes: number;
  /** Objects and arrays open at once. Request bodies are shallow (a files map is depth 2). */
  maxDepth: number;
  /** Object members plus array elements, counted as the separators `:` and `,` outside strings. */
  maxMembers: number;
}

export function registerJsonBody(app: FastifyInstance, limits: JsonBodyLimits): void {
  // Requests answered before their body ended: their connection closes after the answer, so the client
  // stops sending (what it already sent is read and dropped meanwhile).
  const refused = new WeakSet<FastifyRequest>();
  app.addHook('onSend', async (request, reply) => {
    if (refused.has(request)) reply.header('connection', 'close');
  });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', (request: FastifyRequest, payload: NodeJS.ReadableStream, done: (error: Error | null, body?: unknown) => void) => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxBytes) {
      done(new ApiError('payload_too_large', `the body is ${declared} bytes; the limit is ${limits.maxBytes}`));
      return;
    }
    const scanner = new JsonShape(limits);
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (error: Error | null, body?: unknown): void => {
      if (settled) return;
      settled = true;
      payload.removeListener('data', onData);
      // A refused body is still read and dropped up to the byte limit, so the client can read the error
      // instead of meeting a reset mid-upload; past the limit (or the request timeout) the connection is cut.
      if (error) {
        refused.add(request);
        let drained = scanner.bytes;
        payload.on('data', (chunk: Buffer) => {
          drained += chunk.length;
          if (drained > limits.maxBytes) request.raw.destroy();
        });
      }
      done(error, body);
    };
    const onData = (chunk: Buffer): void => {
      const problem = scanner.push(chunk);
      if (problem) {
        finish(problem);
        return;
      }
      chunks.push(chunk);
    };
    payload.on('data', onData);
    payload.on('error', (error: Error) => finish(error));
    payload.on('end', () => {
      if (settled) return;
      if (scanner.bytes === 0) {
        finish(new ApiError('invalid_json', 'the body is empty'));
        return;
      }
      try {
        finish(null, secureJson.parse(Buffer.concat(chunks).toString('utf8'), undefined, { protoAction: 'error', constructorAction: 'error' }));
      } catch (error) {
        finish(new ApiError('invalid_json', error instanceof Error ? error.message.slice(0, 200) : undefined));
      }
    });
  });
}

/** A streaming structural scan of JSON bytes: no decoding, no objects, a few comparisons per byte. */
export class JsonShape {
  bytes = 0;
  private depth = 0;
  private members = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly limits: JsonBodyLimits) {}

  /** An error as soon as the bytes so far break a bound; undefined while they are within all bounds. */
  push(chunk: Buffer): ApiError | undefined {
    this.bytes += chunk.length;
    if (this.bytes > this.limits.maxBytes) return new ApiError('payload_too_large', `the body exceeds ${this.limits.maxBytes} bytes`);
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.inString) {
        // Multi-byte UTF-8 never contains these ASCII bytes, so scanning bytes is exact.
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c) this.escaped = true;
        else if (c === 0x22) this.inString = false;
        continue;
      }
      switch (c) {
        case 0x22: // "
          this.inString = true;
          break;
        case 0x7b: // {
        case 0x5b: // [
          if (++this.depth > this.limits.maxDepth) return new ApiError('validation_failed', `the JSON body nests deeper than ${this.limits.maxDepth} levels`);
          break;
        case 0x7d: // }
        case 0x5d: // ]
          this.depth--;
          break;
        case 0x3a: // :
        case 0x2c: // ,
          if (++this.members > this.limits.maxMembers) return new ApiError('validation_failed', `the JSON body has more than ${this.limits.maxMembers} members (object keys and array items)`);
          break;
        default:
          break;
      }
    }
    return undefined;
  }
}
