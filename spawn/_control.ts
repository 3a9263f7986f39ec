/**
 * The messages between spawn() and the bootstrap of each worker it starts.
 * The start message arrives on the Worker's own channel; everything after it
 * travels on a MessagePort of its own, so the Worker's channel belongs to the
 * application (records travel on a port of their own too).
 *
 * @module
 */
import type { QueueConnection } from "../common/_wire.ts";
import type { LoggingOptions } from "../common/logging_options.ts";
import type { ErrorDescription } from "../errors.ts";

/** The key that marks spawn's start message on the Worker's own channel. */
export const START_KEY = "workerlog:start";

/** Main to worker: what to run and how to log. */
export interface StartMessage {
  module: string;
  index: number;
  count: number;
  name: string;
  args: unknown;
  connection: QueueConnection;
  /** spawn's logging options, as checked there. */
  logging: LoggingOptions;
  preformat: boolean;
  /** The control channel: ToWorker in, FromWorker out. */
  control: MessagePort;
}

/** Main to worker: abort the signal the worker function was given. */
export interface AbortMessage {
  kind: "abort";
  reason: ErrorDescription;
}

/** Anything main posts to a spawned worker on the control channel. */
export type ToWorker = AbortMessage;

/** How a spawned worker ended, as it reports it on the control channel. */
export type Ending =
  /** The worker function returned this value. */
  | { kind: "done"; value: unknown }
  /** The worker failed with this error. */
  | { kind: "failed"; error: ErrorDescription }
  /** The worker called Deno.exit() with this code. */
  | { kind: "exited"; code: number };

/**
 * Anything a spawned worker posts to main on the control channel. The
 * ending says how many messages the worker had posted on its own channel
 * by then: the two channels are not ordered with each other, so spawn()
 * waits for those before it ends the worker.
 */
export type FromWorker =
  /** The module has loaded; the function is about to run. */
  | { kind: "ready" }
  | (Ending & { appMessages: number });
