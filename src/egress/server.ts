// The per-run egress proxy: an HTTP server on a unix socket (the door relays the jail's TCP connections
// to it), holding the run's real credentials in memory only. Its calls() are the run's egress evidence.
import { chmod, chown, rm } from 'node:fs/promises';
import { Agent as HttpAgent, createServer, type Server } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Budget } from './budget.js';
import { checkUpstream } from './endpoint.js';
import { handleCall } from './handler.js';
import type { EgressCall, EgressProxy, EgressProxyOptions } from './types.js';

/** Bounds on what one connection may send before its call is read (slowloris, header floods). */
const MAX_HEADER_BYTES = 16 * 1024;
const MAX_CALLS_KEPT = 10_000;
/** The door caps concurrent connections too; this bound holds even if it did not. */
const MAX_CONNECTIONS = 32;

export async function startEgressProxy(options: EgressProxyOptions): Promise<EgressProxy> {
  const upstream = options.upstream === undefined ? undefined : checkUpstream(options.upstream).origin;
  checkCaps(options.caps);
  const calls: EgressCall[] = [];
  const budget = new Budget(options.caps);
  const aborter = new AbortController();
  const record = (call: EgressCall): void => {
    if (calls.length < MAX_CALLS_KEPT) calls.push(call);
    options.onCall?.(call);
  };
  const agents = { http: new HttpAgent({ keepAlive: true, maxSockets: MAX_CONNECTIONS }), https: new HttpsAgent({ keepAlive: true, maxSockets: MAX_CONNECTIONS }) };
  const ctx = { credentials: options.credentials, policy: options.policy, budget, upstream, signal: aborter.signal, agents, record };
  const server: Server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: options.caps.ms, headersTimeout: Math.min(options.caps.ms, 10_000) }, (req, res) => {
    handleCall(ctx, req, res).catch((error: unknown) => {
      // A bug here (or a throwing onCall) must not leave the jail's call hanging, nor take the service
      // down; the failure is kept in calls() without calling onCall again.
      if (calls.length < MAX_CALLS_KEPT) calls.push({ service: '', action: '', region: '', method: req.method ?? '', status: 500, bytes: 0, ms: 0, allowed: false, reason: `proxy error: ${error instanceof Error ? error.message : String(error)}` });
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Only root and the door's uid may connect (the door drops to that uid before relaying).
  // Mode first, owner second: once the file belongs to another uid, changing its mode takes CAP_FOWNER, which
  // the service does not hold in a container or under its systemd unit (seven capabilities, not FOWNER).
  await chmod(options.socketPath, options.socketOwner === undefined ? 0o600 : 0o660);
  if (options.socketOwner !== undefined) await chown(options.socketPath, options.socketOwner.uid, options.socketOwner.gid);

  let closing: Promise<void> | undefined;
  return {
    calls: () => calls.map((call) => ({ ...call })),
    close: () => {
      closing ??= (async () => {
        aborter.abort();
        agents.http.destroy();
        agents.https.destroy();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await rm(options.socketPath, { force: true });
      })();
      return closing;
    },
  };
}

function checkCaps(caps: EgressProxyOptions['caps']): void {
  for (const [name, value] of Object.entries(caps)) {
    if (!Number.isInteger(value) || value < 0) throw new Error(`egress cap ${name} must be a non-negative integer, got ${value}`);
  }
  if (caps.ms < 1) throw new Error('egress cap ms must be at least 1');
}
