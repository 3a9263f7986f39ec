/**
 * Joining one run, the same for workers and processes: start each, abort
 * the others when one fails or spawn()'s signal aborts, wait until every
 * one has ended and everything it sent is written, then resolve with the
 * results in index order or reject with the first failure.
 *
 * @module
 */
import { type ErrorDescription, WorkerError } from "../errors.ts";
import type { Ending } from "./_control.ts";
import type { Plan } from "./_plan.ts";

/** How one worker or process ended, as spawn() counts it. */
export type Outcome =
  | { kind: "done"; value: unknown }
  | { kind: "failed"; error: ErrorDescription; fromWorker: boolean }
  | { kind: "aborted" };

/** One started worker or process. */
export interface RunningWorker {
  readonly name: string;
  /** Settles after it has ended and everything it sent is written. */
  readonly finished: Promise<Outcome>;
  /** Aborts its signal; ends it if it has not ended within a grace. */
  abort(reason: unknown): void;
}

/** Starts one worker or process; it calls `onFailure` as soon as it knows it failed. */
export type Starter = (
  index: number,
  name: string,
  onFailure: (index: number, error: WorkerError) => void,
) => RunningWorker;

/** The outcome of an ending the worker or process reported itself. */
export function outcomeOf(ending: Ending, name: string): Outcome {
  switch (ending.kind) {
    case "done":
      return { kind: "done", value: ending.value };
    case "failed":
      return { kind: "failed", error: ending.error, fromWorker: true };
    case "exited":
      return ending.code === 0 ? { kind: "done", value: undefined } : {
        kind: "failed",
        error: {
          name: "Error",
          message: `${name} called Deno.exit(${ending.code}) before its function returned`,
        },
        fromWorker: true,
      };
  }
}

/** Starts one per name and joins them. */
export async function join<R>(plan: Plan, names: string[], start: Starter): Promise<R[]> {
  const failed: number[] = [];
  const workers: RunningWorker[] = [];
  const abortAll = (reason: unknown) => workers.forEach((worker) => worker.abort(reason));
  const onFailure = (index: number, error: WorkerError) => {
    failed.push(index);
    abortAll(error);
  };
  const onAbort = () => abortAll(plan.signal?.reason);
  try {
    for (let index = 0; index < plan.count; index++) {
      workers.push(start(index, names[index], onFailure));
    }
  } catch (error) {
    // Starting one failed (e.g. no permission to read the bootstrap): the
    // ones already running must not be left behind.
    abortAll(error);
    await Promise.allSettled(workers.map((worker) => worker.finished));
    throw error;
  }
  plan.signal?.addEventListener("abort", onAbort, { once: true });
  // A listener added to a signal that is already aborted never fires.
  if (plan.signal?.aborted) onAbort();
  try {
    const outcomes = await Promise.all(workers.map((worker) => worker.finished));
    plan.signal?.throwIfAborted();
    if (failed.length > 0) {
      const first = failed[0];
      const outcome = outcomes[first] as Extract<Outcome, { kind: "failed" }>;
      throw new WorkerError(first, workers[first].name, outcome.error);
    }
    return outcomes.map((outcome) => (outcome as { value: R }).value);
  } finally {
    plan.signal?.removeEventListener("abort", onAbort);
  }
}
