// Where a call goes: the real regional endpoint, or the operator's upstream override for every call.
// Service and region were shape-checked and allowlisted before this point, so they are safe in a host.

const GLOBAL_ENDPOINTS: Readonly<Record<string, string>> = {
  // IAM has one global endpoint (it signs with us-east-1 whatever region the scope names).
  iam: 'https://iam.amazonaws.com',
};

export function endpointFor(service: string, region: string, upstream: string | undefined): URL {
  if (upstream !== undefined) return new URL(upstream);
  const global = GLOBAL_ENDPOINTS[service];
  if (global !== undefined) return new URL(global);
  return new URL(`https://${service}.${region}.amazonaws.com`);
}

/** Checks an upstream override once, at start: an http(s) origin with no path, credentials or query. */
export function checkUpstream(upstream: string): URL {
  const url = new URL(upstream);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`egress upstream ${upstream}: must be http:// or https://`);
  if (url.username !== '' || url.password !== '' || url.search !== '' || (url.pathname !== '/' && url.pathname !== '')) {
    throw new Error(`egress upstream ${upstream}: must be an origin only (no user, path or query)`);
  }
  return url;
}
