// Runs started and finished in this process, announced to listeners (audit log, metrics) and counted.
// Each event is raised by the process that made the transition in the RunStore (the worker that started
// the run; whoever won its final state: a worker, a cancel on an API node, a lost-worker sweep), so with
// many hosts every run is announced exactly once, somewhere.
import { snapshot } from './outcomes.js';
import type { RunEventSource, RunListener, RunRecord } from './types.js';

export type InternalErrorHandler = (error: unknown, record?: RunRecord) => void;

/** An internal failure is never swallowed: without a handler it goes to stderr (a crash would kill every run). */
export function internalReporter(handler: InternalErrorHandler | undefined): InternalErrorHandler {
  return (error, record) => {
    if (handler) handler(error, record);
    else process.stderr.write(`confine jobs: internal error${record ? ` in run ${record.id}` : ''}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  };
}

export class RunEvents implements RunEventSource {
  private readonly startedListeners = new Set<RunListener>();
  private readonly finishedListeners = new Set<RunListener>();
  /** Runs this process finished, by final state (monotonic counters for metrics). */
  readonly totals = { succeeded: 0, failed: 0, cancelled: 0 };

  constructor(private readonly report: InternalErrorHandler = internalReporter(undefined)) {}

  onRunStarted(listener: RunListener): () => void {
    this.startedListeners.add(listener);
    return () => this.startedListeners.delete(listener);
  }

  onRunFinished(listener: RunListener): () => void {
    this.finishedListeners.add(listener);
    return () => this.finishedListeners.delete(listener);
  }

  started(record: RunRecord): void {
    this.emit(this.startedListeners, record);
  }

  /** `record` is final (this process won the transition). */
  finished(record: RunRecord): void {
    if (record.state === 'succeeded' || record.state === 'failed' || record.state === 'cancelled') this.totals[record.state]++;
    this.emit(this.finishedListeners, record);
  }

  private emit(listeners: Set<RunListener>, record: RunRecord): void {
    for (const listener of listeners) {
      try {
        listener(snapshot(record));
      } catch (error) {
        this.report(error, record);
      }
    }
  }
}
