// Sends one re-signed call upstream and streams the answer back to the jail, counting every byte against
// the run's budget and bounding the call's time. Nothing is buffered on the way down.
import { request as httpRequest, type Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Budget } from './budget.js';

export interface ForwardInput {
  target: URL;
  method: string;
  /** Path and query exactly as the jail sent them (the signature covers them). */
  pathAndQuery: string;
  headers: Record<string, string>;
  body: Buffer;
  budget: Budget;
  signal: AbortSignal;
  /** The proxy's own connection pool, destroyed with it (no idle upstream socket outlives the run). */
  agent: Agent;
}

export interface ForwardOutcome {
  /** Status sent to the jail; 0 when nothing was sent and the caller must answer. */
  status: number;
  bytes: number;
  reason?: string;
  /** The run's byte cap cut the answer off (a refusal, not an upstream failure). */
  capped?: boolean;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'trailer', 'te']);

export function forward(input: ForwardInput, res: ServerResponse): Promise<ForwardOutcome> {
  return new Promise((resolve) => {
    let bytes = input.body.length;
    let settled = false;
    const finish = (outcome: ForwardOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const send = input.target.protocol === 'https:' ? httpsRequest : httpRequest;
    const upstream = send({
      protocol: input.target.protocol,
      hostname: input.target.hostname,
      port: input.target.port === '' ? undefined : Number(input.target.port),
      method: input.method,
      path: input.pathAndQuery,
      headers: input.headers,
      signal: input.signal,
      agent: input.agent,
    });
    const cut = (reason: string, capped = false): void => {
      upstream.destroy();
      if (res.headersSent) res.destroy();
      finish({ status: res.headersSent ? res.statusCode : 0, bytes, reason, ...(capped ? { capped } : {}) });
    };
    const timer = setTimeout(() => cut(`call took longer than ${input.budget.msPerCall} ms`), input.budget.msPerCall);
    upstream.on('response', (answer: IncomingMessage) => relay(answer));
    upstream.on('error', (error: Error) => cut(`upstream failed: ${error.message}`));
    // The jail hung up first: stop the upstream call too.
    res.on('close', () => {
      if (!res.writableFinished) cut('the jail closed the connection');
    });
    upstream.end(input.body);

    function relay(answer: IncomingMessage): void {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      }
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (!input.budget.spend(chunk.length)) {
          cut('byte cap reached for this run', true);
          return;
        }
        if (!res.write(chunk)) {
          answer.pause();
          res.once('drain', () => answer.resume());
        }
      });
      answer.on('end', () => {
        res.end();
        finish({ status: res.statusCode, bytes });
      });
      answer.on('error', (error: Error) => cut(`upstream answer failed: ${error.message}`));
    }
  });
}
