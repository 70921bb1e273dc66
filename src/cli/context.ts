import { ConfigError, loadConfig, type Config } from '../config/settings.js';
import { CgroupDelegationError } from '../jail/cgroup/index.js';
import { JailHost } from '../jail/host.js';

/** Loads configuration (from `env`, default this process's) or exits with a message naming the wrong variable. */
export function cliConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) fail(`configuration error: ${error.message}`, 2);
    throw error;
  }
}

export async function openJailHost(config: Config): Promise<JailHost> {
  try {
    return await JailHost.open({ stateDir: config.stateDir, uidBase: config.uidBase, uidCount: config.uidCount });
  } catch (error) {
    // Where this shell runs is not the caller's input but their setup: say what to do, without a stack.
    if (error instanceof CgroupDelegationError) fail(error.message, 1);
    throw error;
  }
}

export function fail(message: string, code = 1): never {
  process.stderr.write(`confine: ${message}\n`);
  process.exit(code);
}

export function parsePositive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) fail(`${name} must be a positive number, got "${value}"`, 2);
  return n;
}
