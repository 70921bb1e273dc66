// The life of one running run's abort, as a small state machine: a wall-clock timeout aborts it; an
// abort (timeout, cancel, shutdown) reaches the jail through the signal; if the executor has not returned
// after killGraceMs the record is finished without it (forced finish); if it has still not returned after
// abandonGraceMs more (a hung domain call that ignores its signal), `abandoned` resolves and the worker
// gives the slot up. A slot held forever by nothing (`running=1` with nothing running) would shrink the
// pool for good.
import type { AbortReason } from './outcomes.js';

export interface RunAbortOptions {
  timeoutMs: number;
  killGraceMs: number;
  abandonGraceMs: number;
  /** Called once, killGraceMs after the abort, if the run is still not back. */
  onForcedFinish(why: AbortReason): void;
}

export interface RunAbort {
  readonly signal: AbortSignal;
  /** Why the run was aborted; undefined while it was not. */
  readonly reason: AbortReason | undefined;
  abort(why: AbortReason): void;
  /** Resolves once both graces have passed after an abort. */
  readonly abandoned: Promise<'abandoned'>;
  /** Clears every timer (the run is back, one way or another). */
  dispose(): void;
}

export function armRunAbort(options: RunAbortOptions): RunAbort {
  const controller = new AbortController();
  let reason: AbortReason | undefined;
  let forced: NodeJS.Timeout | undefined;
  let giveUp: NodeJS.Timeout | undefined;
  let abandon: () => void = () => undefined;
  const abandoned = new Promise<'abandoned'>((resolve) => (abandon = () => resolve('abandoned')));
  const abort = (why: AbortReason): void => {
    if (reason) return;
    reason = why;
    controller.abort(why);
    forced = setTimeout(() => {
      options.onForcedFinish(why);
      giveUp = setTimeout(abandon, options.abandonGraceMs);
    }, options.killGraceMs);
  };
  const timer = setTimeout(() => abort('timeout'), options.timeoutMs);
  return {
    signal: controller.signal,
    get reason() {
      return reason;
    },
    abort,
    abandoned,
    dispose() {
      clearTimeout(timer);
      clearTimeout(forced);
      clearTimeout(giveUp);
    },
  };
}
