// Where a plan's JSON goes as `terraform show -json` prints it: redacted chunk by chunk into a file of a
// fresh, service-owned workspace (a tmpfs sized for TF_MAX_PLAN_JSON_SIZE), never whole in the service's
// memory. The same workspace is then handed to the analysis jail, which reads the file to summarise it,
// and the file is streamed to the artifact store. Up to 128 MiB of plan JSON used to be held as a string,
// parsed, redacted and re-serialised on the event loop.
import { constants, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { JailHost } from '../../jail/host.js';
import type { Workspace } from '../../jail/workspace.js';
import { StreamRedactor } from './redact.js';

export const PLAN_FILE = 'plan.json';
const SPOOL_INODES = 16;

export interface PlanSpool {
  readonly workspace: Workspace;
  /** Host path of the plan file (valid until dispose). */
  readonly path: string;
  /** Bytes written so far. */
  readonly bytes: number;
  /** The sink for the show step's stdout. */
  write(chunk: Buffer): void;
  /** Flushes the held-back tail and closes the file; resolves once it is on disk. */
  finish(): Promise<void>;
  dispose(): Promise<void>;
}

export async function openPlanSpool(host: JailHost, capBytes: number, secrets: readonly string[]): Promise<PlanSpool> {
  // Room for the capped output plus the redaction markers that may replace shorter secrets.
  const workspace = await host.createWorkspace({ sizeBytes: capBytes + 1024 * 1024, maxInodes: SPOOL_INODES });
  const path = join(workspace.hostPath, PLAN_FILE);
  let stream: WriteStream;
  try {
    // A fresh tmpfs no jail has touched: O_EXCL | O_NOFOLLOW all the same.
    const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    stream = handle.createWriteStream();
  } catch (error) {
    await workspace.dispose();
    throw error;
  }
  const redactor = new StreamRedactor(secrets);
  let bytes = 0;
  let failure: Error | undefined;
  stream.on('error', (error) => (failure ??= error));
  const put = (data: Buffer): void => {
    if (data.length === 0) return;
    bytes += data.length;
    stream.write(data);
  };
  return {
    workspace,
    path,
    get bytes() {
      return bytes;
    },
    write(chunk) {
      put(redactor.push(chunk));
    },
    async finish() {
      put(redactor.end());
      await new Promise<void>((resolve, reject) => {
        stream.end(() => (failure ? reject(failure) : resolve()));
        stream.once('error', reject);
      });
      if (failure) throw failure;
    },
    async dispose() {
      if (!stream.closed) stream.destroy();
      await workspace.dispose();
    },
  };
}
