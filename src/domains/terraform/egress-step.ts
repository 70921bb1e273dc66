// The plan step's way to the cloud (issue 11): a per-run signing proxy on a unix socket under the state
// dir, and a door (the jail agent's own network namespace holding only `lo` and a listener on
// 127.0.0.1:port that relays to that socket). The jail gets placeholder keys and the listener's URL; the
// real credentials stay in this process, in the proxy, for the step's lifetime.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EgressConfig } from '../../config/settings.js';
import { startEgressProxy, type EgressCall, type EgressProxy } from '../../egress/index.js';
import { EGRESS_SOCKET_NAME, egressRunDir } from '../../jail/egress-dirs.js';
import type { SeccompProfileName } from '../../jail/spec.js';
import type { AwsCredentials } from './types.js';

/** What the jail's SDK signs with. Not a secret: the proxy drops this signature and signs again. */
export const PLACEHOLDER_ACCESS_KEY_ID = 'AKIAEGRESSPLACEHOLDER';
export const PLACEHOLDER_SECRET_ACCESS_KEY = 'placeholder';

/**
 * The SDK retries throttling and 5xx; a few attempts are enough, and each one counts against the run's
 * request cap (25, the provider's default, would spend the cap on one failing call).
 */
const SDK_MAX_ATTEMPTS = '3';

/** Past the request cap every call is refused alike: a few of them show it, the rest are only counted. */
const REFUSALS_KEPT_PAST_CAP = 10;

/** JailHost.openDoor's shape (src/jail/host.ts), as much of it as this step uses. */
export interface Door {
  netnsPath: string;
  close(): Promise<void>;
}
export interface DoorOpener {
  openDoor(options: { socketPath: string; port: number; uid: number; gid: number }): Promise<Door>;
}

export interface EgressStepInput {
  doors: DoorOpener;
  /** Parent of the per-run socket directory (the service's state dir). */
  stateDir: string;
  config: Readonly<EgressConfig>;
  credentials: AwsCredentials;
  /** The run's jail identity: the socket is connectable by it (the door drops to it) and by root only. */
  owner: { uid: number; gid: number };
}

/** The plan step's JailSpec additions while the door is open. */
export interface EgressJail {
  env: Record<string, string>;
  network: { netnsPath: string };
  seccompProfile: SeccompProfileName;
}

export interface OpenEgress {
  jail: EgressJail;
  /** The calls for the result: at most TF_EGRESS_MAX_REQUESTS + a few refusals past the cap. */
  calls(): EgressCall[];
  /** Calls left out of calls(): a jail may keep calling past its cap, each refused and counted here only. */
  dropped(): number;
  /** Closes door then proxy and removes the socket directory; every part is attempted, the first failure thrown. */
  close(): Promise<void>;
}

export async function openEgress(input: EgressStepInput): Promise<OpenEgress> {
  // Named for this process: a service or CLI killed mid-plan leaves it, and the next JailHost.open sweeps it.
  const dir = egressRunDir(input.stateDir);
  // 0711: the door (running as the run's uid) must traverse to the socket; nobody may list the names.
  await mkdir(dir, { recursive: true, mode: 0o711 });
  const socketPath = join(dir, EGRESS_SOCKET_NAME);
  let proxy: EgressProxy | undefined;
  let door: Door | undefined;
  try {
    proxy = await startEgressProxy({
      socketPath,
      credentials: input.credentials,
      policy: { services: input.config.services, regions: input.config.regions, actions: input.config.actions },
      caps: { requests: input.config.maxRequests, bytes: input.config.maxBytes, ms: input.config.callTimeoutMs },
      ...(input.config.upstreamUrl === '' ? {} : { upstream: input.config.upstreamUrl }),
      socketOwner: input.owner,
    });
    door = await input.doors.openDoor({ socketPath, port: input.config.port, uid: input.owner.uid, gid: input.owner.gid });
  } catch (error) {
    await closeAll(door, proxy, dir);
    throw error;
  }
  const opened = { door, proxy };
  const kept = input.config.maxRequests + REFUSALS_KEPT_PAST_CAP;
  return {
    jail: { env: egressEnv(input.config.port), network: { netnsPath: door.netnsPath }, seccompProfile: 'terraform-egress' },
    calls: () => opened.proxy.calls().slice(0, kept),
    dropped: () => Math.max(0, opened.proxy.calls().length - kept),
    close: () => closeAll(opened.door, opened.proxy, dir),
  };
}

/** The plan step's AWS environment: the listener as every service's endpoint, and nothing real. */
export function egressEnv(port: number): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: PLACEHOLDER_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: PLACEHOLDER_SECRET_ACCESS_KEY,
    AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
    // One host for every bucket: virtual-host style would name `<bucket>.127.0.0.1`, which resolves nowhere.
    AWS_S3_USE_PATH_STYLE: 'true',
    AWS_MAX_ATTEMPTS: SDK_MAX_ATTEMPTS,
  };
}

/** Door first (no new connection reaches the proxy), then the proxy, then the directory. */
async function closeAll(door: Door | undefined, proxy: EgressProxy | undefined, dir: string): Promise<void> {
  const results = await Promise.allSettled([door?.close()]);
  results.push(...(await Promise.allSettled([proxy?.close()])));
  results.push(...(await Promise.allSettled([rm(dir, { recursive: true, force: true })])));
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}

export const AWS_PROVIDER_ADDRESS = 'registry.terraform.io/hashicorp/aws';

export const EGRESS_OFF_MESSAGE = 'this service does not give Terraform plans network access; an operator enables it with TF_EGRESS=aws';

/**
 * Whether a run's plan step gets a door. Only a plan that carries credentials and uses the AWS provider
 * talks to the cloud; everything else keeps no network (a config without the AWS provider ignores the
 * credentials, as seed 000's orchestrator sends them with every plan). With egress off such a plan is
 * refused up front: the provider would retry its STS call against no network until the run's timeout.
 */
export function egressDecision(mode: 'off' | 'aws', request: { mode: string; hasCredentials: boolean }, providers: readonly string[]): 'none' | 'door' | 'refuse' {
  if (request.mode !== 'plan' || !request.hasCredentials || !providers.includes(AWS_PROVIDER_ADDRESS)) return 'none';
  return mode === 'aws' ? 'door' : 'refuse';
}
