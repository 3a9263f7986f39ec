/**
 * Decoding, the listener's half of the wire format (common/_wire.ts):
 * batches back into records and lines.
 *
 * @module
 */
import type { LogLevel } from "@std/log";
import type { LineBatch, RecordBatch } from "../common/_wire.ts";
import { WorkerLogRecord } from "../common/worker_log_record.ts";

/** Who sent a batch, as records name them. */
export interface SenderIdentity {
  readonly name: string;
  readonly index?: number;
}

const NO_ARGS: unknown[] = [];

/** Rebuilds every record of a batch, in order, and hands each to `dispatch`. */
export function forEachRecord(
  batch: RecordBatch,
  sender: SenderIdentity,
  dispatch: (record: WorkerLogRecord) => void,
): void {
  const { text, ends, times, levels, loggerNames, loggerAt, argAt, args, seq } = batch;
  let nextArgs = 0;
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    let recordArgs = NO_ARGS;
    if (argAt[nextArgs] === i) recordArgs = args[nextArgs++];
    dispatch(
      new WorkerLogRecord({
        msg: text.slice(start, ends[i]),
        args: recordArgs,
        level: levels[i] as LogLevel,
        loggerName: loggerNames[loggerAt[i]],
        datetime: times[i],
        worker: sender.name,
        workerIndex: sender.index,
        seq: seq + i,
      }),
    );
    start = ends[i];
  }
}

/** The i-th line of a line batch, without its "\n". */
export function lineAt(batch: LineBatch, i: number): string {
  return batch.text.slice(i === 0 ? 0 : batch.ends[i - 1] + 1, batch.ends[i]);
}
