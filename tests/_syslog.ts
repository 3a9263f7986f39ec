// Shared by the SyslogHandler tests: a handler whose faults are collected,
// records as the listener hands them on, and the structured data rsyslog
// received.
import { assert } from "@std/assert";
import { WorkerLogRecord } from "@workerlog/workerlog";
import { SyslogHandler, type SyslogHandlerOptions } from "@workerlog/workerlog";
import type { Received } from "./_rsyslog.ts";

/** A handler whose faults are collected, not printed. */
export function handlerFor(options: SyslogHandlerOptions, level: "DEBUG" | "INFO" = "DEBUG") {
  const errors: Error[] = [];
  const handler = new SyslogHandler(level, { ...options, onError: (error) => errors.push(error) });
  return { handler, errors };
}

/** A record as the listener hands it on, with defaults for what a test leaves out. */
export function record(msg: string, fields: Partial<{
  args: unknown[];
  level: number;
  loggerName: string;
  worker: string;
  seq: number;
  time: number;
}> = {}): WorkerLogRecord {
  return new WorkerLogRecord({
    msg,
    args: fields.args ?? [],
    level: (fields.level ?? 20) as 20,
    loggerName: fields.loggerName ?? "app",
    datetime: fields.time ?? Date.UTC(2026, 10, 24, 8, 49, 55, 123),
    worker: fields.worker ?? "worker-0",
    seq: fields.seq ?? 0,
  });
}

/** The workerlog@32473 element's params, unescaped. */
export function sdParams(received: Received): Record<string, string> {
  const sd = received["structured-data"];
  const match = /^\[workerlog@32473((?: [a-z]+="(?:[^"\\\]]|\\.)*")*)\]$/.exec(sd);
  assert(match, `structured data not as expected: ${sd}`);
  const params: Record<string, string> = {};
  for (const [, name, value] of match[1].matchAll(/ ([a-z]+)="((?:[^"\\\]]|\\.)*)"/g)) {
    params[name] = value.replace(/\\(.)/g, "$1");
  }
  return params;
}
