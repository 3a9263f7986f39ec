// Shared by the sink flood tests (syslog, OTLP): 4 workers flood one
// QueueListener while a watcher on a thread of its own notes how far each
// worker was when the receiver first had `threshold` records; the workers
// log `after` more once they see its flag (see sink_flood_worker.ts and
// sink_watch_worker.ts).
import { assert, assertEquals } from "@std/assert";
import type { QueueListener } from "@workerlog/workerlog";
import { spawn } from "@workerlog/workerlog";
import { fixture } from "./_helpers.ts";
import type { FloodArgs } from "./fixtures/sink_flood_worker.ts";

export const FLOOD_WORKERS = 4;

/**
 * A small cap in flight for the flooded listener: the workers still flood
 * (they are held at the cap all along), but do not log 16,384 records each
 * before the listener is under way.
 */
export const FLOOD_MAX_IN_FLIGHT = 2_048;

/**
 * Far more than a working sink lets the workers log (they stop soon after
 * the flag): a busy machine may take a while to start a sink's I/O worker.
 */
export const FLOOD_MAX_RECORDS = 100_000;

/** The watcher's flag and the workers' progress, shared with both. */
export function floodProgress(): { shared: SharedArrayBuffer; view: Int32Array } {
  const shared = new SharedArrayBuffer(4 * (1 + 2 * FLOOD_WORKERS));
  return { shared, view: new Int32Array(shared) };
}

/** Runs the flooding workers into `listener`; returns how many records each logged. */
export function flood(listener: QueueListener, shared: SharedArrayBuffer): Promise<number[]> {
  return spawn<number>(fixture("sink_flood_worker.ts"), {
    count: FLOOD_WORKERS,
    args: {
      shared,
      maxRecords: FLOOD_MAX_RECORDS,
      after: 1_000,
      yieldEvery: 500,
    } satisfies FloodArgs,
    listener,
  });
}

/**
 * The watcher's flag is up, and every worker was still logging when it went
 * up: it had logged fewer records then than in the end, and it saw the flag
 * before FLOOD_MAX_RECORDS.
 */
export function assertProgressBeforeEnd(view: Int32Array, logged: number[], receiver: string) {
  assertEquals(view[0], 1, `${receiver} never got its first records`);
  logged.forEach((total, k) => {
    const then = view[1 + FLOOD_WORKERS + k];
    assert(
      then < total && total < FLOOD_MAX_RECORDS,
      `worker ${k} had logged ${then} of its ${total} records (at most ${FLOOD_MAX_RECORDS}) ` +
        `when ${receiver} had its first records: they must arrive while the workers still log`,
    );
  });
}

/** Where each worker was when the flag went up, for the test's output. */
export function progressAtFlag(view: Int32Array): number[] {
  return [...view.subarray(1 + FLOOD_WORKERS)];
}
