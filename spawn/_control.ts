/**
 * The messages between spawn() and the bootstrap of each worker it starts,
 * on the Worker's own channel (records travel on their own port).
 *
 * @module
 */
import type { LevelName, LoggerConfig } from "@std/log";
import type { QueueConnection } from "../common/_wire.ts";
import type { ErrorDescription } from "../errors.ts";

/** Main to worker: what to run and how to log. */
export interface StartMessage {
  kind: "start";
  module: string;
  index: number;
  count: number;
  name: string;
  args: unknown;
  connection: QueueConnection;
  level: LevelName;
  loggers: Record<string, Pick<LoggerConfig, "level">>;
  preformat: boolean;
  batchSize: number | undefined;
}

/** Main to worker: abort the signal the worker function was given. */
export interface AbortMessage {
  kind: "abort";
  reason: ErrorDescription;
}

/** Worker to main: the worker function returned this value. */
export interface DoneMessage {
  kind: "done";
  value: unknown;
}

/** Worker to main: the worker failed with this error. */
export interface FailedMessage {
  kind: "failed";
  error: ErrorDescription;
}

/** Anything main posts to a spawned worker. */
export type ToWorker = StartMessage | AbortMessage;

/** Anything a spawned worker posts to main. */
export type FromWorker = DoneMessage | FailedMessage;
