// One configuration table, read from the environment once at start and frozen. Each setting is
// documented here (the README's table is generated from it); a wrong value stops start-up with a
// message naming the variable. Where a seed already names a setting, its name is kept.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { DEFAULT_EGRESS_POLICY } from '../egress/policy.js';

type Kind = 'string' | 'int' | 'number' | 'list' | 'bool';

export interface Setting {
  kind: Kind;
  default: string;
  doc: string;
  min?: number;
}

export const SETTINGS = {
  CONFINE_STATE_DIR: { kind: 'string', default: '/var/lib/confine', doc: 'Workspaces (tmpfs mounts), uid leases and local artifacts live here.' },
  CONFINE_UID_BASE: { kind: 'int', default: '1950000000', min: 1000, doc: 'First unprivileged host uid for jails; each live workspace leases its own.' },
  CONFINE_UID_COUNT: { kind: 'int', default: '4096', min: 1, doc: 'Number of host uids jails may use.' },
  TERRAFORM_BIN: { kind: 'string', default: 'terraform', doc: 'Terraform binary (a name looked up on the host PATH, or an absolute path).' },
  TF_PROVIDER_MIRROR: { kind: 'string', default: existsSync('/opt/tf-plugins') ? '/opt/tf-plugins' : '', doc: 'Read-only provider filesystem mirror (unpacked layout); the hard limit on which providers exist.' },
  ALLOWED_PROVIDERS: { kind: 'list', default: 'aws,random,null', doc: 'Providers the static policy accepts (the mirror remains the hard limit).' },
  ALLOWED_COMMANDS: { kind: 'list', default: 'ls,cat,echo,pwd,id,whoami,sh', doc: 'Programs a command or script may run; nothing else exists inside the shell jail.' },
  DEFAULT_EXEC_TIMEOUT_SECONDS: { kind: 'number', default: '30', min: 0.1, doc: 'Wall-clock timeout of a command or script when the request names none.' },
  MAX_EXEC_TIMEOUT_SECONDS: { kind: 'number', default: '300', min: 0.1, doc: 'Largest timeout a command or script request may ask for.' },
  EXEC_MEMORY_LIMIT_MB: { kind: 'int', default: '256', min: 8, doc: 'Memory limit (MiB) of a command or script jail; requests may lower it.' },
  EXEC_MAX_PIDS: { kind: 'int', default: '64', min: 4, doc: 'Process limit of a command or script jail; requests may lower it.' },
  COMMAND_RULES_FILE: { kind: 'string', default: '', doc: 'Optional JSON/YAML file of per-command argument rules for allowlisted programs (schema-checked at start).' },
  EXEC_MAX_INPUT_FILES: { kind: 'int', default: '256', min: 0, doc: 'Most input files one command or script request may inject into its workspace.' },
  EXEC_MAX_INPUT_BYTES: { kind: 'int', default: '8388608', min: 0, doc: 'Most bytes of input files plus stdin one command or script request may send.' },
  MAX_EXECUTION_TIME: { kind: 'number', default: '300', min: 1, doc: 'Total wall-clock limit (seconds) of one Terraform run, all steps together.' },
  MEMORY_LIMIT: { kind: 'int', default: '2048', min: 64, doc: 'Memory limit (MiB) of each Terraform step.' },
  CPU_LIMIT: { kind: 'number', default: '2', min: 0.1, doc: 'CPU cores each jail may use (cgroup quota).' },
  MAX_WORKSPACE_SIZE: { kind: 'int', default: '100', min: 1, doc: 'Size (MiB) of a workspace tmpfs, uploads and Terraform data together.' },
  TF_MAX_UPLOAD_SIZE: { kind: 'int', default: '20', min: 1, doc: 'Largest total size (MiB) of the uncompressed files of one Terraform upload.' },
  TF_MAX_FILE_SIZE: { kind: 'int', default: '5', min: 1, doc: 'Largest single file (MiB) in a Terraform upload.' },
  TF_MAX_FILES: { kind: 'int', default: '1000', min: 1, doc: 'Most files (and directories) one Terraform upload may hold.' },
  TF_MAX_PATH_DEPTH: { kind: 'int', default: '16', min: 1, doc: 'Deepest directory nesting in a Terraform upload.' },
  TF_MAX_COMPRESSION_RATIO: { kind: 'int', default: '100', min: 1, doc: 'Largest uncompressed/compressed ratio of a zip or tar.gz upload (zip bombs).' },
  TF_FORBIDDEN_FILES: { kind: 'string', default: 'strip', doc: 'What intake does with .terraform/, terraform.d/, *.tfstate*, .terraformrc, *.tfrc, .netrc, .git*: strip or reject.' },
  TF_LOCK_FILE: { kind: 'string', default: 'strip', doc: 'What intake does with an uploaded .terraform.lock.hcl: keep, strip or reject.' },
  TF_POLICY_WARN: { kind: 'list', default: '', doc: 'Static-policy rules that only warn instead of blocking (default: every rule blocks).' },
  BLOCK_LOCAL_EXEC: { kind: 'bool', default: 'true', doc: 'Seed setting: provisioners (local-exec, remote-exec, file) block the run; false makes the `provisioner` rule a warning.' },
  BLOCK_EXTERNAL_DATA: { kind: 'bool', default: 'true', doc: 'Seed setting: `data "external"` blocks the run; false makes the `data_external` rule a warning (the provider allowlist still applies).' },
  TF_MAX_PLAN_JSON_SIZE: { kind: 'int', default: '128', min: 1, doc: 'Largest plan JSON (MiB) `terraform show -json` may print; more is a resource_limit.' },
  TF_EGRESS: { kind: 'string', default: 'off', doc: 'Network for Terraform plans: `off` (no network at all; a plan that needs the AWS provider and carries credentials is refused) or `aws` (the plan step of a request carrying credentials reaches allowlisted AWS API calls through a host-side proxy that signs them; the credentials never enter the jail).' },
  TF_EGRESS_SERVICES: { kind: 'list', default: DEFAULT_EGRESS_POLICY.services.join(','), doc: 'AWS services (SigV4 scope names) a plan may call when TF_EGRESS=aws.' },
  TF_EGRESS_REGIONS: { kind: 'list', default: DEFAULT_EGRESS_POLICY.regions.join(','), doc: 'AWS regions a plan may call when TF_EGRESS=aws.' },
  TF_EGRESS_ACTIONS: { kind: 'string', default: '', doc: 'Extra calls allowed on top of the read-only default (Describe*, List*, Get*, REST GET/HEAD), comma-separated `service:Action` with an optional trailing `*` (REST services name the method: `s3:PUT`).' },
  TF_EGRESS_MAX_REQUESTS: { kind: 'int', default: '200', min: 1, doc: 'Calls (allowed or refused) one plan may make through the egress proxy; beyond it every call is refused.' },
  TF_EGRESS_MAX_BYTES: { kind: 'int', default: '67108864', min: 1024, doc: 'Bytes (requests up plus answers down) one plan may move through the egress proxy.' },
  TF_EGRESS_CALL_TIMEOUT_MS: { kind: 'int', default: '30000', min: 100, doc: 'Longest one forwarded call may take upstream before it is cut off.' },
  TF_EGRESS_UPSTREAM_URL: { kind: 'string', default: '', doc: 'Send every egress call to this http(s) origin instead of the real regional AWS endpoint (tests, private clouds).' },
  TF_EGRESS_PORT: { kind: 'int', default: '8080', min: 1, doc: 'TCP port of the egress listener on 127.0.0.1 inside the plan step\'s own network namespace.' },
  PORT: { kind: 'int', default: '8000', min: 0, doc: 'HTTP port of `confine serve`.' },
  HOST: { kind: 'string', default: '127.0.0.1', doc: 'Address `confine serve` listens on (use 0.0.0.0 to expose it).' },
  API_KEYS: { kind: 'string', default: '', doc: 'Comma-separated API keys, each `key` or `tenant:key`; kept only as SHA-256 digests. With no keys and no JWT settings, serve generates a dev key and prints it.' },
  JWT_SECRET: { kind: 'string', default: '', doc: 'HS256 secret for bearer JWTs (tenant: JWT_TENANT_PREFIX + the `tenant` claim, else `sub`; `exp` required).' },
  JWT_PUBLIC_KEY: { kind: 'string', default: '', doc: 'PEM (SPKI) public key for RS256 bearer JWTs.' },
  JWT_JWKS_URL: { kind: 'string', default: '', doc: 'JWKS URL for RS256 bearer JWTs (keys fetched and cached by jose).' },
  JWT_ISSUER: { kind: 'string', default: '', doc: 'Required `iss` of bearer JWTs (empty: not checked).' },
  JWT_AUDIENCE: { kind: 'string', default: '', doc: 'Required `aud` of bearer JWTs (empty: not checked).' },
  JWT_MAX_AGE_SECONDS: { kind: 'int', default: '86400', min: 1, doc: 'Longest lifetime a bearer JWT may claim: a token without `exp`, with `exp` further ahead than this, or with an `iat` older than this is refused.' },
  JWT_TENANT_PREFIX: { kind: 'string', default: 'jwt:', doc: 'Prefix of every JWT tenant name, so a token can never name an API-key tenant (those cannot contain `:`). Empty maps JWT tenants onto API-key tenants of the same name, on purpose.' },
  RATE_LIMIT_REQUESTS: { kind: 'int', default: '100', min: 1, doc: 'Requests one tenant may make per window.' },
  RATE_LIMIT_WINDOW_SECONDS: { kind: 'int', default: '60', min: 1, doc: 'Rate-limit window in seconds.' },
  BODY_LIMIT_MB: { kind: 'number', default: '10', min: 0.01, doc: 'Largest JSON request body (MiB).' },
  UPLOAD_LIMIT_MB: { kind: 'number', default: '50', min: 0.01, doc: 'Largest multipart archive upload (MiB).' },
  SYNC_WAIT_SECONDS: { kind: 'number', default: '330', min: 1, doc: 'Longest a synchronous request waits for its run before answering 202 with a Location.' },
  LOG_LEVEL: { kind: 'string', default: 'info', doc: 'pino log level (fatal, error, warn, info, debug, trace, silent).' },
  HTTP_HEADERS_TIMEOUT_SECONDS: { kind: 'number', default: '10', min: 0.1, doc: 'Time a client has to send its request headers (slowloris); then 408 and the connection closes.' },
  HTTP_REQUEST_TIMEOUT_SECONDS: { kind: 'number', default: '300', min: 0.1, doc: 'Time a client has to send its whole request, body included (50 MiB at ~1.4 Mbit/s); then 408 and the connection closes.' },
  HTTP_BODY_IDLE_TIMEOUT_SECONDS: { kind: 'number', default: '15', min: 0.1, doc: 'A request body that sends no byte for this long is stalled: 408 and the connection closes.' },
  HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: { kind: 'number', default: '10', min: 0.1, doc: 'Idle keep-alive connections close after this (set above a load balancer\'s idle timeout if one sits in front).' },
  HTTP_MAX_CONNECTIONS: { kind: 'int', default: '4096', min: 2, doc: 'Open client connections, all together; beyond it a new connection gets 503 too_many_connections and is closed. Keep it below the process\'s descriptor limit.' },
  HTTP_MAX_UNAUTHENTICATED_CONNECTIONS: { kind: 'int', default: '512', min: 1, doc: 'Connections that have not (yet) made an authenticated request; beyond it the oldest of them is closed, so strangers cannot hold every slot.' },
  // jobs, sessions and artifacts (src/jobs, src/sessions, src/artifacts)
  WORKERS: { kind: 'int', default: '2', min: 1, doc: 'Fixed number of worker slots; at most this many runs execute at once.' },
  QUEUE_SIZE: { kind: 'int', default: '64', min: 1, doc: 'Runs that may wait in the queue; beyond it submissions get 503 with Retry-After.' },
  QUEUE_TENANT_SHARE: { kind: 'int', default: '16', min: 1, doc: 'Queued runs one tenant may have at once; beyond it that tenant gets 429 with Retry-After.' },
  RUN_RECORDS_MAX: { kind: 'int', default: '1000', min: 1, doc: 'Finished runs kept in memory for polling (oldest evicted first).' },
  RUN_RECORDS_TTL_SECONDS: { kind: 'int', default: '3600', min: 1, doc: 'How long a finished run stays readable.' },
  RUN_RECORD_MAX_BYTES: { kind: 'int', default: '1048576', min: 1024, doc: 'Bytes of text (stdout/stderr of every step, diagnostics, inline plan) one finished run record keeps; the rest is dropped and the record says so (`output_trimmed`, `*_truncated`).' },
  RUN_RECORDS_MAX_BYTES: { kind: 'int', default: '67108864', min: 1024, doc: 'Bytes of text all finished run records keep together; the oldest finished records are evicted beyond it.' },
  QUEUE_MAX_BYTES: { kind: 'int', default: '268435456', min: 1024, doc: 'Bytes of queued payloads (files maps, scripts; archives travel by reference), all tenants together; beyond it submissions get 503 with Retry-After.' },
  QUEUE_TENANT_MAX_BYTES: { kind: 'int', default: '67108864', min: 1024, doc: 'Bytes of queued payloads one tenant may have; beyond it that tenant gets 429 with Retry-After.' },
  TF_PLAN_INLINE_MAX_BYTES: { kind: 'int', default: '262144', min: 0, doc: 'Plan JSON up to this size is also returned inline (`result.plan_json`); larger plans only through `plan_reference` and GET /api/v1/runs/{id}/plan.' },
  ARTIFACT_TENANT_QUOTA_MB: { kind: 'number', default: '1024', min: 0.01, doc: 'Bytes (MiB) one tenant may keep in the artifact store (uploads, run archives, plans); an upload beyond it is refused with 413 artifact_quota_exceeded.' },
  ARTIFACT_TTL_SECONDS: { kind: 'int', default: '604800', min: 1, doc: 'Artifacts (uploads, plans) older than this are deleted by a sweep that runs at start and every ARTIFACT_SWEEP_INTERVAL_SECONDS.' },
  ARTIFACT_SWEEP_INTERVAL_SECONDS: { kind: 'int', default: '600', min: 1, doc: 'How often expired artifacts are swept.' },
  SHUTDOWN_GRACE_SECONDS: { kind: 'number', default: '30', min: 0, doc: 'On shutdown, time given to queued and running runs to finish before they are cancelled.' },
  SESSION_TTL_SECONDS: { kind: 'int', default: '600', min: 1, doc: 'Session TTL; refreshed on each request that uses the session.' },
  CLEANUP_INTERVAL_SECONDS: { kind: 'int', default: '60', min: 1, doc: 'How often expired sessions are removed (their workspaces unmounted).' },
  CLEANUP_MAX_CONTAINER_AGE_SECONDS: { kind: 'int', default: '900', min: 0, doc: 'Sessions older than this are removed at the next cleanup even if used recently (seed 004 name; 0: no age limit).' },
  SESSION_DISK_QUOTA_MB: { kind: 'int', default: '64', min: 1, doc: 'Size (MiB) of a session workspace tmpfs (workspace and /tmp together).' },
  SESSION_MAX_COUNT: { kind: 'int', default: '256', min: 1, doc: 'Live sessions on this service, all tenants together.' },
  SESSION_MAX_PER_TENANT: { kind: 'int', default: '16', min: 1, doc: 'Live sessions one tenant may hold.' },
  ARTIFACTS_DIR: { kind: 'string', default: '', doc: 'Local artifact directory (empty: CONFINE_STATE_DIR/artifacts); used unless S3_BUCKET is set.' },
  S3_BUCKET: { kind: 'string', default: '', doc: 'Store artifacts (plans, uploads) in this S3-compatible bucket instead of the local directory.' },
  S3_ENDPOINT: { kind: 'string', default: '', doc: 'S3-compatible endpoint URL (empty: the AWS endpoint of S3_REGION).' },
  S3_REGION: { kind: 'string', default: 'us-east-1', doc: 'S3 region.' },
  S3_ACCESS_KEY_ID: { kind: 'string', default: '', doc: 'S3 access key id (empty: the SDK default credential chain).' },
  S3_SECRET_ACCESS_KEY: { kind: 'string', default: '', doc: 'S3 secret access key (never logged).' },
  S3_FORCE_PATH_STYLE: { kind: 'bool', default: 'true', doc: 'Path-style S3 URLs (needed by most S3-compatible servers).' },
  S3_PREFIX: { kind: 'string', default: '', doc: 'Key prefix for every object confine writes; tenant namespaces live below it.' },
  S3_READ_GRANTS: { kind: 'string', default: '', doc: 'Bucket prefixes a tenant may also read workspaces from, outside its namespace: `tenant:prefix/,...` (e.g. `orchestrator:uploads/` for seed 000, where the orchestrator writes `s3://bucket/uploads/<job>.zip` itself). Read-only; never a tenant namespace.' },
  WORKSPACE_POOL: { kind: 'int', default: '2', min: 0, doc: 'Fresh workspaces `confine serve` keeps mounted ahead of demand (each holds a tmpfs and a uid lease); takes the tmpfs mount off the request path. 0 disables.' },
  LAUNCHER_POOL: { kind: 'int', default: '2', min: 0, doc: 'Jail launchers `confine serve` keeps waiting inside fresh job cgroups: entering a cgroup costs an RCU grace period on cgroup v1 (4–20 ms measured), paid ahead of demand. 0 disables.' },
  ASYNC_CLEANUP: { kind: 'bool', default: 'false', doc: 'Answer a run as soon as its jail has exited and remove its cgroup and workspace in the background (runs that had to be killed always clean up first). Faster; `false` keeps "answered means gone".' },
  AUDIT_LOG_PATH: { kind: 'string', default: '', doc: 'File the audit stream (who, what, duration, resources, exit reason) is appended to; empty: stdout, tagged `"log":"audit"`.' },
  // many hosts (issue 12): API nodes and workers over Redis
  REDIS_URL: { kind: 'string', default: '', doc: 'Redis (`redis://[user:password@]host:port[/db]` or `rediss://`) shared by API nodes and workers; empty: one embedded process (memory queue, no Redis). Required by `serve --role api|all` and `confine worker`.' },
  REDIS_KEY_PREFIX: { kind: 'string', default: 'confine', doc: 'Prefix of every Redis key confine writes (several deployments may share one Redis with different prefixes).' },
  WORKER_ID: { kind: 'string', default: '', doc: 'This worker\'s id in Redis (registry, per-worker queue, session binding, the name a lost run reports); empty: `<hostname>-<pid>`.' },
  QUEUE_SECRET_KEY: { kind: 'string', default: '', doc: '32 bytes, base64: AES-256-GCM key API nodes and workers share; with it every queued payload is sealed in Redis (a run\'s credentials never sit there in clear, and leave Redis with the job when the run ends). Required by `serve --role api|all` and `confine worker` (any run may carry credentials); set the same key on every node (`openssl rand -base64 32`).' },
  WORKER_HEARTBEAT_SECONDS: { kind: 'number', default: '5', min: 0.2, doc: 'How often a worker renews its registration in Redis; it is considered gone after 3 missed beats (`/ready`, sessions bound to it).' },
  RUN_LOCK_SECONDS: { kind: 'number', default: '30', min: 1, doc: 'Lock a worker holds on a running run, renewed while the run lives; a worker that stops renewing (killed, host gone) has its run failed `unknown_error` naming it within about 1.5 times this (never retried).' },
  WORKER_METRICS_PORT: { kind: 'int', default: '0', min: 0, doc: '`confine worker` serves GET /metrics (Prometheus: runs it finished, step durations, its busy slots, the shared queue depth) and GET /health on HOST at this port; 0: off.' },
  ARTIFACTS_DIR_SHARED: { kind: 'bool', default: 'false', doc: 'The operator\'s statement that the local artifact directory is the same directory on every host (one host, or NFS); `serve --role api` and `confine worker` refuse local artifacts without it (use S3_BUCKET otherwise).' },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

export interface Config {
  stateDir: string;
  uidBase: number;
  uidCount: number;
  terraformBin: string;
  providerMirror: string;
  allowedProviders: string[];
  allowedCommands: string[];
  defaultExecTimeoutSeconds: number;
  maxExecTimeoutSeconds: number;
  execMemoryMiB: number;
  execMaxPids: number;
  commandRulesFile: string;
  execMaxInputFiles: number;
  execMaxInputBytes: number;
  maxExecutionTimeSeconds: number;
  terraformMemoryMiB: number;
  cpuCores: number;
  workspaceMiB: number;
  // terraform intake and policy
  tfMaxUploadMiB: number;
  tfMaxFileMiB: number;
  tfMaxFiles: number;
  tfMaxPathDepth: number;
  tfMaxCompressionRatio: number;
  tfForbiddenFiles: string;
  tfLockFile: string;
  tfPolicyWarn: string[];
  tfMaxPlanJsonMiB: number;
  egress: Readonly<EgressConfig>;
  blockLocalExec: boolean;
  blockExternalData: boolean;
  port: number;
  host: string;
  apiKeys: string;
  jwtSecret: string;
  jwtPublicKey: string;
  jwtJwksUrl: string;
  jwtIssuer: string;
  jwtAudience: string;
  jwtMaxAgeSeconds: number;
  jwtTenantPrefix: string;
  rateLimitRequests: number;
  rateLimitWindowSeconds: number;
  bodyLimitMiB: number;
  uploadLimitMiB: number;
  syncWaitSeconds: number;
  logLevel: string;
  http: Readonly<HttpLimits>;
  auditLogPath: string;
  workspacePool: number;
  launcherPool: number;
  asyncCleanup: boolean;
  // jobs, sessions and artifacts
  workers: number;
  queueSize: number;
  queueTenantShare: number;
  runRecordsMax: number;
  runRecordsTtlSeconds: number;
  runRecordMaxBytes: number;
  runRecordsMaxBytes: number;
  queueMaxBytes: number;
  queueTenantMaxBytes: number;
  tfPlanInlineMaxBytes: number;
  artifactTenantQuotaMiB: number;
  artifactTtlSeconds: number;
  artifactSweepIntervalSeconds: number;
  shutdownGraceSeconds: number;
  sessionTtlSeconds: number;
  cleanupIntervalSeconds: number;
  sessionMaxAgeSeconds: number;
  sessionDiskQuotaMiB: number;
  sessionMaxCount: number;
  sessionMaxPerTenant: number;
  artifactsDir: string;
  s3: Readonly<S3Config>;
  redis: Readonly<RedisConfig>;
}

/** Issue 12: the shared state of many hosts. `url: ''` = embedded (one process, no Redis). */
export interface RedisConfig {
  url: string;
  keyPrefix: string;
  /** This process's worker id (WORKER_ID or `<hostname>-<pid>`). */
  workerId: string;
  /** Base64 of 32 bytes, or '' when unset (checked at load). */
  queueSecretKey: string;
  heartbeatMs: number;
  runLockMs: number;
  /** ARTIFACTS_DIR_SHARED: the local artifact directory is the same on every host. */
  artifactDirShared: boolean;
  /** WORKER_METRICS_PORT; 0: a worker serves no metrics. */
  workerMetricsPort: number;
}

export interface S3Config {
  bucket: string;
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  prefix: string;
  /** tenant -> bucket key prefixes it may read workspaces from (operator grants, S3_READ_GRANTS). */
  readGrants: Readonly<Record<string, readonly string[]>>;
}

/** Issue 11: the plan step's door to allowlisted AWS calls (`mode: 'off'` = no network at all). */
export interface EgressConfig {
  mode: 'off' | 'aws';
  services: string[];
  regions: string[];
  /** Extra allowed calls, `service:Action` or `service:Prefix*`. */
  actions: string[];
  maxRequests: number;
  maxBytes: number;
  callTimeoutMs: number;
  /** '' = the real regional endpoints. */
  upstreamUrl: string;
  port: number;
}

/** Timeouts and connection caps of the HTTP server (the edge facing strangers). */
export interface HttpLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  bodyIdleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  maxUnauthenticatedConnections: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
  }
}

function read(env: NodeJS.ProcessEnv, name: SettingName): string {
  return env[name] ?? SETTINGS[name].default;
}

function int(env: NodeJS.ProcessEnv, name: SettingName): number {
  const raw = read(env, name).trim();
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  return atLeast(name, Number(raw));
}

function num(env: NodeJS.ProcessEnv, name: SettingName): number {
  const raw = read(env, name).trim();
  const value = Number(raw);
  if (raw === '' || !Number.isFinite(value)) throw new ConfigError(name, `expected a number, got "${raw}"`);
  return atLeast(name, value);
}

function atLeast(name: SettingName, value: number): number {
  const setting: Setting = SETTINGS[name];
  if (setting.min !== undefined && value < setting.min) throw new ConfigError(name, `must be at least ${setting.min}`);
  return value;
}

function bool(env: NodeJS.ProcessEnv, name: SettingName): boolean {
  const raw = read(env, name).trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function list(env: NodeJS.ProcessEnv, name: SettingName): string[] {
  const items = read(env, name).split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!/^[A-Za-z0-9._+-]+$/.test(item)) throw new ConfigError(name, `invalid entry "${item}"`);
  }
  return items;
}

function oneOf(env: NodeJS.ProcessEnv, name: SettingName, allowed: readonly string[]): string {
  const raw = read(env, name).trim();
  if (!allowed.includes(raw)) throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  return raw;
}

/** `tenant:prefix/,tenant2:other/`: each prefix a relative key ending in `/`, no `..`, outside `tenants/`. */
function readGrants(env: NodeJS.ProcessEnv): Record<string, string[]> {
  const grants: Record<string, string[]> = {};
  const namespaces = `${read(env, 'S3_PREFIX').replace(/\/?$/, '/').replace(/^\/$/, '')}tenants/`;
  for (const entry of read(env, 'S3_READ_GRANTS').split(',').map((e) => e.trim()).filter(Boolean)) {
    // A tenant may hold ':' (JWT tenants are `jwt:<claim>`); a prefix never does, so the last ':' splits.
    const match = /^([A-Za-z0-9._@:-]+):([A-Za-z0-9._\/-]+\/)$/.exec(entry);
    const prefix = match?.[2];
    if (!match || !prefix || prefix.startsWith('/') || prefix.split('/').some((part) => part === '..' || part === '.')) {
      throw new ConfigError('S3_READ_GRANTS', `invalid grant "${entry}" (expected tenant:prefix/ with a relative prefix)`);
    }
    if (prefix.startsWith(namespaces) || namespaces.startsWith(prefix)) {
      throw new ConfigError('S3_READ_GRANTS', `grant "${entry}" would reach into tenant namespaces (${namespaces})`);
    }
    (grants[match[1]!] ??= []).push(prefix);
  }
  return grants;
}

function egressConfig(env: NodeJS.ProcessEnv): Readonly<EgressConfig> {
  const port = int(env, 'TF_EGRESS_PORT');
  if (port > 65535) throw new ConfigError('TF_EGRESS_PORT', 'must be at most 65535');
  return Object.freeze({
    mode: oneOf(env, 'TF_EGRESS', ['off', 'aws']) as EgressConfig['mode'],
    services: list(env, 'TF_EGRESS_SERVICES'),
    regions: list(env, 'TF_EGRESS_REGIONS'),
    actions: egressActions(env),
    maxRequests: int(env, 'TF_EGRESS_MAX_REQUESTS'),
    maxBytes: int(env, 'TF_EGRESS_MAX_BYTES'),
    callTimeoutMs: int(env, 'TF_EGRESS_CALL_TIMEOUT_MS'),
    upstreamUrl: egressUpstream(env),
    port,
  });
}

/** `service:Action` or `service:Prefix*`: a typo here would silently allow nothing (or too much). */
function egressActions(env: NodeJS.ProcessEnv): string[] {
  const items = read(env, 'TF_EGRESS_ACTIONS').split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!/^[a-z0-9-]+:[A-Za-z0-9]+\*?$/.test(item)) throw new ConfigError('TF_EGRESS_ACTIONS', `invalid entry "${item}" (expected service:Action, e.g. ec2:RunInstances or s3:PUT)`);
  }
  return items;
}

/** An origin only (http or https, no path, query or credentials): every call's path is the jail's own. */
function egressUpstream(env: NodeJS.ProcessEnv): string {
  const raw = read(env, 'TF_EGRESS_UPSTREAM_URL').trim();
  if (raw === '') return '';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('TF_EGRESS_UPSTREAM_URL', `not a URL: "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('TF_EGRESS_UPSTREAM_URL', `expected http:// or https://, got "${url.protocol}"`);
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || (url.pathname !== '/' && url.pathname !== '')) {
    throw new ConfigError('TF_EGRESS_UPSTREAM_URL', 'expected an origin only (scheme://host[:port]), without path, query or user info');
  }
  return url.origin;
}

function redisConfig(env: NodeJS.ProcessEnv): Readonly<RedisConfig> {
  const url = read(env, 'REDIS_URL').trim();
  if (url !== '') {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError('REDIS_URL', 'not a URL (expected redis://host:port or rediss://host:port)');
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new ConfigError('REDIS_URL', `expected redis:// or rediss://, got "${parsed.protocol}"`);
  }
  const keyPrefix = read(env, 'REDIS_KEY_PREFIX').trim();
  // BullMQ joins prefix, queue name and id with ':'; a ':' or a space here would mix deployments' keys.
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(keyPrefix)) throw new ConfigError('REDIS_KEY_PREFIX', `expected 1-64 of A-Z a-z 0-9 . _ -, got "${keyPrefix}"`);
  const workerId = read(env, 'WORKER_ID').trim() || `${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 100)}-${process.pid}`;
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(workerId)) throw new ConfigError('WORKER_ID', `expected 1-128 of A-Z a-z 0-9 . _ - (it names a Redis key and a queue), got "${workerId}"`);
  const queueSecretKey = read(env, 'QUEUE_SECRET_KEY').trim();
  // The value is never echoed: it is a secret.
  if (queueSecretKey !== '' && (!/^[A-Za-z0-9+/]+={0,2}$/.test(queueSecretKey) || Buffer.from(queueSecretKey, 'base64').length !== 32)) {
    throw new ConfigError('QUEUE_SECRET_KEY', 'expected 32 bytes in base64 (e.g. `openssl rand -base64 32`)');
  }
  // Credentials would otherwise sit in Redis in clear for as long as the run is queued.
  if (url !== '' && queueSecretKey === '' && read(env, 'TF_EGRESS').trim() === 'aws') {
    throw new ConfigError('QUEUE_SECRET_KEY', 'required with REDIS_URL and TF_EGRESS=aws: runs carrying credentials are queued encrypted under it (set the same key on API nodes and workers, e.g. `openssl rand -base64 32`)');
  }
  return Object.freeze({
    url,
    keyPrefix,
    workerId,
    queueSecretKey,
    heartbeatMs: Math.round(num(env, 'WORKER_HEARTBEAT_SECONDS') * 1000),
    runLockMs: Math.round(num(env, 'RUN_LOCK_SECONDS') * 1000),
    artifactDirShared: bool(env, 'ARTIFACTS_DIR_SHARED'),
    workerMetricsPort: workerMetricsPort(env),
  });
}

function workerMetricsPort(env: NodeJS.ProcessEnv): number {
  const port = int(env, 'WORKER_METRICS_PORT');
  if (port > 65535) throw new ConfigError('WORKER_METRICS_PORT', 'must be at most 65535');
  return port;
}

function httpLimits(env: NodeJS.ProcessEnv): Readonly<HttpLimits> {
  const seconds = (name: SettingName): number => Math.round(num(env, name) * 1000);
  const limits = {
    headersTimeoutMs: seconds('HTTP_HEADERS_TIMEOUT_SECONDS'),
    requestTimeoutMs: seconds('HTTP_REQUEST_TIMEOUT_SECONDS'),
    bodyIdleTimeoutMs: seconds('HTTP_BODY_IDLE_TIMEOUT_SECONDS'),
    keepAliveTimeoutMs: seconds('HTTP_KEEP_ALIVE_TIMEOUT_SECONDS'),
    maxConnections: int(env, 'HTTP_MAX_CONNECTIONS'),
    maxUnauthenticatedConnections: int(env, 'HTTP_MAX_UNAUTHENTICATED_CONNECTIONS'),
  };
  // node refuses a headers timeout above the request timeout; a stranger-only cap above the total is meaningless.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) throw new ConfigError('HTTP_HEADERS_TIMEOUT_SECONDS', 'must not exceed HTTP_REQUEST_TIMEOUT_SECONDS');
  if (limits.maxUnauthenticatedConnections >= limits.maxConnections) throw new ConfigError('HTTP_MAX_UNAUTHENTICATED_CONNECTIONS', 'must be below HTTP_MAX_CONNECTIONS');
  return Object.freeze(limits);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  return Object.freeze({
    stateDir: read(env, 'CONFINE_STATE_DIR'),
    uidBase: int(env, 'CONFINE_UID_BASE'),
    uidCount: int(env, 'CONFINE_UID_COUNT'),
    terraformBin: read(env, 'TERRAFORM_BIN'),
    providerMirror: read(env, 'TF_PROVIDER_MIRROR'),
    allowedProviders: list(env, 'ALLOWED_PROVIDERS'),
    allowedCommands: list(env, 'ALLOWED_COMMANDS'),
    defaultExecTimeoutSeconds: num(env, 'DEFAULT_EXEC_TIMEOUT_SECONDS'),
    maxExecTimeoutSeconds: num(env, 'MAX_EXEC_TIMEOUT_SECONDS'),
    execMemoryMiB: int(env, 'EXEC_MEMORY_LIMIT_MB'),
    execMaxPids: int(env, 'EXEC_MAX_PIDS'),
    commandRulesFile: read(env, 'COMMAND_RULES_FILE'),
    execMaxInputFiles: int(env, 'EXEC_MAX_INPUT_FILES'),
    execMaxInputBytes: int(env, 'EXEC_MAX_INPUT_BYTES'),
    maxExecutionTimeSeconds: num(env, 'MAX_EXECUTION_TIME'),
    terraformMemoryMiB: int(env, 'MEMORY_LIMIT'),
    cpuCores: num(env, 'CPU_LIMIT'),
    workspaceMiB: int(env, 'MAX_WORKSPACE_SIZE'),
    tfMaxUploadMiB: int(env, 'TF_MAX_UPLOAD_SIZE'),
    tfMaxFileMiB: int(env, 'TF_MAX_FILE_SIZE'),
    tfMaxFiles: int(env, 'TF_MAX_FILES'),
    tfMaxPathDepth: int(env, 'TF_MAX_PATH_DEPTH'),
    tfMaxCompressionRatio: int(env, 'TF_MAX_COMPRESSION_RATIO'),
    tfForbiddenFiles: oneOf(env, 'TF_FORBIDDEN_FILES', ['strip', 'reject']),
    tfLockFile: oneOf(env, 'TF_LOCK_FILE', ['keep', 'strip', 'reject']),
    tfPolicyWarn: list(env, 'TF_POLICY_WARN'),
    tfMaxPlanJsonMiB: int(env, 'TF_MAX_PLAN_JSON_SIZE'),
    egress: egressConfig(env),
    blockLocalExec: bool(env, 'BLOCK_LOCAL_EXEC'),
    blockExternalData: bool(env, 'BLOCK_EXTERNAL_DATA'),
    port: int(env, 'PORT'),
    host: read(env, 'HOST'),
    apiKeys: read(env, 'API_KEYS'),
    jwtSecret: read(env, 'JWT_SECRET'),
    jwtPublicKey: read(env, 'JWT_PUBLIC_KEY'),
    jwtJwksUrl: read(env, 'JWT_JWKS_URL'),
    jwtIssuer: read(env, 'JWT_ISSUER'),
    jwtAudience: read(env, 'JWT_AUDIENCE'),
    jwtMaxAgeSeconds: int(env, 'JWT_MAX_AGE_SECONDS'),
    jwtTenantPrefix: read(env, 'JWT_TENANT_PREFIX'),
    rateLimitRequests: int(env, 'RATE_LIMIT_REQUESTS'),
    rateLimitWindowSeconds: int(env, 'RATE_LIMIT_WINDOW_SECONDS'),
    bodyLimitMiB: num(env, 'BODY_LIMIT_MB'),
    uploadLimitMiB: num(env, 'UPLOAD_LIMIT_MB'),
    syncWaitSeconds: num(env, 'SYNC_WAIT_SECONDS'),
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    http: httpLimits(env),
    auditLogPath: read(env, 'AUDIT_LOG_PATH'),
    workspacePool: int(env, 'WORKSPACE_POOL'),
    launcherPool: int(env, 'LAUNCHER_POOL'),
    asyncCleanup: bool(env, 'ASYNC_CLEANUP'),
    workers: int(env, 'WORKERS'),
    queueSize: int(env, 'QUEUE_SIZE'),
    queueTenantShare: int(env, 'QUEUE_TENANT_SHARE'),
    runRecordsMax: int(env, 'RUN_RECORDS_MAX'),
    runRecordsTtlSeconds: int(env, 'RUN_RECORDS_TTL_SECONDS'),
    runRecordMaxBytes: int(env, 'RUN_RECORD_MAX_BYTES'),
    runRecordsMaxBytes: int(env, 'RUN_RECORDS_MAX_BYTES'),
    queueMaxBytes: int(env, 'QUEUE_MAX_BYTES'),
    queueTenantMaxBytes: int(env, 'QUEUE_TENANT_MAX_BYTES'),
    tfPlanInlineMaxBytes: int(env, 'TF_PLAN_INLINE_MAX_BYTES'),
    artifactTenantQuotaMiB: num(env, 'ARTIFACT_TENANT_QUOTA_MB'),
    artifactTtlSeconds: int(env, 'ARTIFACT_TTL_SECONDS'),
    artifactSweepIntervalSeconds: int(env, 'ARTIFACT_SWEEP_INTERVAL_SECONDS'),
    shutdownGraceSeconds: num(env, 'SHUTDOWN_GRACE_SECONDS'),
    sessionTtlSeconds: int(env, 'SESSION_TTL_SECONDS'),
    cleanupIntervalSeconds: int(env, 'CLEANUP_INTERVAL_SECONDS'),
    sessionMaxAgeSeconds: int(env, 'CLEANUP_MAX_CONTAINER_AGE_SECONDS'),
    sessionDiskQuotaMiB: int(env, 'SESSION_DISK_QUOTA_MB'),
    sessionMaxCount: int(env, 'SESSION_MAX_COUNT'),
    sessionMaxPerTenant: int(env, 'SESSION_MAX_PER_TENANT'),
    artifactsDir: read(env, 'ARTIFACTS_DIR'),
    s3: Object.freeze({
      bucket: read(env, 'S3_BUCKET'),
      endpoint: read(env, 'S3_ENDPOINT'),
      region: read(env, 'S3_REGION'),
      accessKeyId: read(env, 'S3_ACCESS_KEY_ID'),
      secretAccessKey: read(env, 'S3_SECRET_ACCESS_KEY'),
      forcePathStyle: bool(env, 'S3_FORCE_PATH_STYLE'),
      prefix: read(env, 'S3_PREFIX'),
      readGrants: readGrants(env),
    }),
    redis: redisConfig(env),
  });
}
