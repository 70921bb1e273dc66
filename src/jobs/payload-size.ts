// The size of a queued run, counted against the queue's byte budgets. It counts the tenant-controlled
// text a payload holds (files maps, scripts, stdin, command lines, paths, references), which is what can
// be large; the fixed-size fields around it are covered by a constant per entry. One pass over strings
// the request already holds; the API bounds how many there are before this runs.
import type { RunRequest } from './types.js';

/** Fixed overhead of one queued run (ids, mode, limits, object headers). */
export const ENTRY_OVERHEAD_BYTES = 1024;

export function payloadBytes(run: RunRequest): number {
  let bytes = ENTRY_OVERHEAD_BYTES;
  const text = (value: string | undefined): void => {
    if (value !== undefined) bytes += Buffer.byteLength(value, 'utf8');
  };
  const files = (map: Record<string, string> | undefined): void => {
    for (const [path, content] of Object.entries(map ?? {})) {
      text(path);
      text(content);
    }
  };
  switch (run.kind) {
    case 'command':
    case 'script':
      text(run.kind === 'command' ? run.request.command : run.request.script);
      text(run.request.stdin);
      text(run.request.cwd);
      files(run.request.files);
      break;
    case 'terraform': {
      const input = run.request.input;
      if (input.kind === 'files') files(input.files);
      else if (input.kind === 'reference') text(input.reference);
      else text(input.path);
      text(run.request.working_dir);
      break;
    }
  }
  return bytes;
}
