// Host-side signing egress proxy (issue 11): the only way a Terraform plan reaches a cloud API.
export { startEgressProxy } from './server.js';
export { DEFAULT_EGRESS_POLICY } from './policy.js';
export type { AwsCredentials, EgressCall, EgressCaps, EgressPolicy, EgressProxy, EgressProxyOptions } from './types.js';
