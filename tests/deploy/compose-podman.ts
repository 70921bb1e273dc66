// Turns compose.yaml's confine service into `podman run` options, so the test starts the container exactly
// as the file says without needing docker compose. Only the keys compose.yaml uses are understood; any
// other key throws, so a setting added to the file cannot be silently left out of the test.
import type { Yaml } from './support.js';

const HANDLED = new Set([
  'image', 'build', 'environment', 'ports', 'user', 'cap_drop', 'cap_add', 'cgroup', 'security_opt', 'read_only',
  'tmpfs', 'volumes', 'stop_grace_period', 'healthcheck', 'restart',
]);

/** Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?message}` against the given environment. */
export function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::([-?])([^}]*))?\}/g, (_whole, name: string, op: string | undefined, arg: string | undefined) => {
    const set = env[name];
    if (set !== undefined && set !== '') return set;
    if (op === '-') return arg ?? '';
    if (op === '?') throw new Error(`${name}: ${arg ?? 'required'}`);
    return '';
  });
}

function strings(value: unknown, key: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new Error(`compose: ${key} must be a list of strings`);
  return value as string[];
}

export interface PodmanRun {
  options: string[];
  image: string;
}

/**
 * `volume` names the podman volume that stands for each named compose volume (a throw-away one per test);
 * `repo` resolves relative paths (the seccomp profile) as compose does, from the project directory.
 */
export function podmanOptions(service: Yaml, env: Record<string, string | undefined>, repo: string, volume: (name: string) => string): PodmanRun {
  for (const key of Object.keys(service)) if (!HANDLED.has(key)) throw new Error(`compose: the test does not know how to apply "${key}"`);
  const options: string[] = [];
  const environment = service.environment as Record<string, string | number>;
  for (const [name, value] of Object.entries(environment)) options.push('-e', `${name}=${interpolate(String(value), env)}`);
  if (typeof service.user === 'string') options.push('--user', service.user);
  for (const cap of strings(service.cap_drop, 'cap_drop')) options.push(`--cap-drop=${cap}`);
  options.push(`--cap-add=${strings(service.cap_add, 'cap_add').join(',')}`);
  if (service.cgroup === 'private') options.push('--cgroupns=private');
  for (const opt of strings(service.security_opt, 'security_opt')) {
    if (opt === 'no-new-privileges:true') options.push('--security-opt', 'no-new-privileges');
    else if (opt.startsWith('seccomp=./')) options.push('--security-opt', `seccomp=${repo}${opt.slice('seccomp=./'.length)}`);
    else options.push('--security-opt', opt);
  }
  if (service.read_only === true) options.push('--read-only');
  for (const tmpfs of strings(service.tmpfs, 'tmpfs')) options.push('--tmpfs', tmpfs);
  for (const mount of strings(service.volumes, 'volumes')) {
    const [name, target] = mount.split(':');
    options.push('-v', `${volume(name!)}:${target!}`);
  }
  return { options, image: String(service.image) };
}
