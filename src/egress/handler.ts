// One call from the jail, start to end: count it, read its scope and action, check the allowlist, then
// either answer an AWS-shaped refusal or re-sign and forward it. Every call, allowed or not, is recorded.
import type { Agent, IncomingMessage, ServerResponse } from 'node:http';
import { detectAction } from './action.js';
import { MAX_REQUEST_BODY_BYTES, readBoundedBody } from './body.js';
import type { Budget } from './budget.js';
import { endpointFor } from './endpoint.js';
import { forward } from './forward.js';
import { decide } from './policy.js';
import { refusal } from './refusal.js';
import { resign } from './resign.js';
import { parseAuthorization } from './scope.js';
import type { AwsCredentials, AwsProtocol, EgressCall, EgressPolicy } from './types.js';

export interface HandlerContext {
  credentials: AwsCredentials;
  policy: EgressPolicy;
  budget: Budget;
  upstream: string | undefined;
  signal: AbortSignal;
  agents: { http: Agent; https: Agent };
  record: (call: EgressCall) => void;
}

export async function handleCall(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const method = (req.method ?? 'GET').toUpperCase();
  const call: EgressCall = { service: '', action: '', region: '', method, status: 0, bytes: 0, ms: 0, allowed: false };
  let protocol: AwsProtocol = 'rest';
  const done = (update: Partial<EgressCall>): void => {
    ctx.record({ ...call, ...update, ms: Math.round(performance.now() - started) });
  };
  const deny = (reason: string, status = 403): void => {
    const answer = refusal(protocol, reason);
    // A refused call's unread body must not be parsed as the next call on this connection.
    res.shouldKeepAlive = false;
    res.writeHead(status, { 'content-type': answer.contentType, 'content-length': Buffer.byteLength(answer.body), 'x-amzn-requestid': 'confine-egress-refusal' });
    res.end(method === 'HEAD' ? undefined : answer.body);
    done({ status, reason });
  };

  if (!ctx.budget.takeRequest()) return deny('request cap reached for this run');
  const scope = parseAuthorization(req.headers.authorization);
  if (!scope.ok) return deny(scope.reason);
  Object.assign(call, { service: scope.scope.service, region: scope.scope.region });
  if (scope.scope.service === 'ec2') protocol = 'ec2';
  // Only origin-form paths: an absolute URL here would ask the proxy to go somewhere else (SSRF).
  const rawUrl = req.url ?? '/';
  if (!rawUrl.startsWith('/') || rawUrl.startsWith('//')) return deny('request target must be a path');
  // Sign exactly the path that is sent: a URL parser would resolve `..` and re-encode (S3 keys may hold both).
  const queryAt = rawUrl.indexOf('?');
  const path = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
  const query = new URLSearchParams(queryAt === -1 ? '' : rawUrl.slice(queryAt + 1));
  const sha = req.headers['x-amz-content-sha256'];
  // Chunk-signed uploads carry the placeholder key's signature in every chunk; they are writes anyway.
  if (typeof sha === 'string' && sha.startsWith('STREAMING-')) return deny('chunk-signed (streaming) uploads are not relayed');

  if (ctx.budget.bytesLeft() === 0) return deny('byte cap reached for this run');
  const body = await readBoundedBody(req, MAX_REQUEST_BODY_BYTES);
  if (!body.ok) return deny(body.reason);
  const target = req.headers['x-amz-target'];
  const detected = detectAction({
    service: scope.scope.service,
    method,
    query,
    contentType: req.headers['content-type'],
    target: typeof target === 'string' ? target : undefined,
    body: body.body,
  });
  if (!detected.ok) {
    protocol = detected.protocol;
    return deny(detected.reason);
  }
  protocol = detected.detected.protocol;
  call.action = detected.detected.action;
  const decision = decide(ctx.policy, { service: call.service, region: call.region, protocol, action: call.action });
  if (!decision.allowed) return deny(decision.reason);
  if (!ctx.budget.spend(body.body.length)) return deny('byte cap reached for this run');

  const destination = endpointFor(call.service, call.region, ctx.upstream);
  const headers = await resign(
    { method, path, query, headers: req.headers, body: body.body, service: call.service, region: call.region },
    destination,
    ctx.credentials,
  );
  const outcome = await forward(
    { target: destination, method, pathAndQuery: rawUrl, headers, body: body.body, budget: ctx.budget, signal: ctx.signal, agent: destination.protocol === 'https:' ? ctx.agents.https : ctx.agents.http },
    res,
  );
  call.allowed = outcome.capped !== true;
  if (outcome.status === 0 && outcome.reason !== undefined && !res.headersSent && !res.destroyed) {
    // Nothing reached the jail yet: answer in the protocol's own error shape (502: not the jail's fault).
    const answer = refusal(protocol, outcome.reason);
    res.writeHead(502, { 'content-type': answer.contentType, 'content-length': Buffer.byteLength(answer.body) });
    res.end(method === 'HEAD' ? undefined : answer.body);
    return done({ status: 502, bytes: outcome.bytes, reason: outcome.reason });
  }
  done({ status: outcome.status, bytes: outcome.bytes, ...(outcome.reason === undefined ? {} : { reason: outcome.reason }) });
}
