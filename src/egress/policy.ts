// The allowlist: which calls the host makes on a run's behalf. Default is read-only: query and JSON
// protocol actions named Describe*, List*, Get*, and GET/HEAD for REST services. Reads that mint or
// reveal credentials are not reads for this purpose (a jail that got temporary keys back from
// sts:GetSessionToken would have stolen them), so they are refused unless an operator names them exactly.
import type { AwsProtocol, EgressPolicy } from './types.js';

export const DEFAULT_EGRESS_POLICY: EgressPolicy = {
  services: ['sts', 'ec2', 's3'],
  regions: ['us-east-1'],
  actions: [],
};

const READ_PREFIXES = ['Describe', 'List', 'Get'];
const READ_METHODS = ['GET', 'HEAD'];

/** Credential-minting "reads" (confused deputy / credential theft through an allowed call). */
const NEVER_BY_DEFAULT = new Set([
  'sts:GetSessionToken',
  'sts:GetFederationToken',
  'sts:GetWebIdentityToken',
  'ecr:GetAuthorizationToken',
  'ecr-public:GetAuthorizationToken',
  'codeartifact:GetAuthorizationToken',
  'cognito-identity:GetCredentialsForIdentity',
  'cognito-identity:GetOpenIdToken',
  'cognito-identity:GetOpenIdTokenForDeveloperIdentity',
  'sso:GetRoleCredentials',
  'redshift:GetClusterCredentials',
  'redshift:GetClusterCredentialsWithIAM',
  'redshift-serverless:GetCredentials',
  'eks:GetToken',
]);

export interface CallToCheck {
  service: string;
  region: string;
  protocol: AwsProtocol;
  action: string;
}

export type Decision = { allowed: true } | { allowed: false; reason: string };

export function decide(policy: EgressPolicy, call: CallToCheck): Decision {
  if (!policy.services.includes(call.service)) return refuse(`service ${call.service} is not allowlisted`);
  if (!policy.regions.includes(call.region)) return refuse(`region ${call.region} is not allowlisted`);
  const name = `${call.service}:${call.action}`;
  if (policy.actions.some((pattern) => matches(pattern, name))) return { allowed: true };
  if (NEVER_BY_DEFAULT.has(name)) return refuse(`${name} returns credentials and is not allowed by default`);
  if (isDefaultRead(call)) return { allowed: true };
  return refuse(`${name} is not a read-only call`);
}

function isDefaultRead(call: CallToCheck): boolean {
  if (call.protocol === 'rest') return READ_METHODS.includes(call.action);
  return READ_PREFIXES.some((prefix) => call.action.startsWith(prefix) && call.action.length > prefix.length);
}

/** `service:Action` exactly, or `service:Prefix*`. */
export function matches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

function refuse(reason: string): Decision {
  return { allowed: false, reason };
}
