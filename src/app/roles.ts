// Which parts of confine one process runs (issue 12), and the combinations refused at start because they
// cannot work across hosts. Each refusal is a ConfigError naming the variable to set, so `confine serve`
// and `confine worker` print it and exit 2 like any other wrong setting.
import { ConfigError, type Config } from '../config/settings.js';

/**
 * embedded: one process, memory ports, no Redis (today's default).
 * api:      HTTP only, over Redis; no jail agent, no JailHost, runs as any user.
 * worker:   jails only, over Redis; claims runs, heartbeats, no HTTP.
 * all:      api + worker in one process, over Redis (joins the same cluster as the others).
 */
export type Role = 'embedded' | 'api' | 'worker' | 'all';

export const SERVE_ROLES = ['api', 'all'] as const;
export type ServeRole = (typeof SERVE_ROLES)[number];

export function runsApi(role: Role): boolean {
  return role !== 'worker';
}

export function runsWorker(role: Role): boolean {
  return role !== 'api';
}

/**
 * `confine serve [--role api|all]` or `confine worker` -> the role, or a ConfigError saying what to set.
 * Plain `confine serve` is embedded without REDIS_URL and `all` with it (the same process, now shared).
 */
export function resolveRole(command: 'serve' | 'worker', asked: string | undefined, config: Readonly<Config>, uid: number = process.getuid?.() ?? 0): Role {
  if (asked !== undefined && !(SERVE_ROLES as readonly string[]).includes(asked)) {
    throw new ConfigError('--role', `expected one of ${SERVE_ROLES.join(', ')} (workers start with \`confine worker\`), got "${asked}"`);
  }
  const role: Role = command === 'worker' ? 'worker' : ((asked as ServeRole | undefined) ?? (config.redis.url === '' ? 'embedded' : 'all'));
  if (role === 'embedded') return role;
  const what = command === 'worker' ? '`confine worker`' : `\`confine serve --role ${role}\``;
  if (config.redis.url === '') {
    throw new ConfigError('REDIS_URL', `${what} shares runs, records, sessions and rate limits through Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379), or run plain \`confine serve\` for one process`);
  }
  // Every queued payload sits in Redis until a worker takes it, and any run may carry cloud credentials
  // (Terraform requests, the seed routes): without a key they would be readable there by whoever reads
  // Redis (a replica, a backup, the AOF). Workers need the same key to open what API nodes sealed.
  if (config.redis.queueSecretKey === '') {
    throw new ConfigError('QUEUE_SECRET_KEY', `${what} queues runs in Redis sealed with AES-256-GCM under a key every API node and worker shares: set QUEUE_SECRET_KEY to 32 random bytes in base64 (\`openssl rand -base64 32\`), the same on every node`);
  }
  // A run's archive is stored by the API node that received it and read by the worker that runs it; plans go
  // the other way. A directory private to each host would answer "not found" for half of them.
  if ((role === 'api' || role === 'worker') && config.s3.bucket === '' && !config.redis.artifactDirShared) {
    throw new ConfigError('ARTIFACTS_DIR_SHARED', `${what} with the local artifact directory: API nodes and workers must see the same artifacts. Set S3_BUCKET (S3-compatible storage), or ARTIFACTS_DIR_SHARED=true if ARTIFACTS_DIR is the same directory on every host (one host, or NFS)`);
  }
  // Workers (root: jails) write plans into the local directory readable only by their own user (0700/0600,
  // plans hold sensitive values): an unprivileged API node would answer storage_unavailable for every plan.
  if (role === 'api' && config.s3.bucket === '' && uid !== 0) {
    throw new ConfigError('S3_BUCKET', `${what} as uid ${uid} with the local artifact directory: workers (root) write plans there readable only by root, so this node could not serve them. Set S3_BUCKET (an API node then runs as any user), or run this API node as root`);
  }
  return role;
}
