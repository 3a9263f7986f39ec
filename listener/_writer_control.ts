/**
 * The messages between a WriterListener on the main thread and its writer
 * worker (listener/_writer_main.ts), on the writer's own Worker channel,
 * which carries nothing else. Records never travel here: each sender has a
 * MessagePort straight to the writer.
 *
 * @module
 */
import type { OverflowPolicy } from "../common/_flow.ts";
import type { QueueConnection } from "../common/_wire.ts";
import type { ErrorDescription } from "../errors.ts";
import type { ListenerStats } from "./queue_listener.ts";

/** The QueueListener options that can cross threads (onError cannot). */
export interface WriterListenerSettings {
  respectHandlerLevel: boolean;
  maxInFlight: number;
  maxInFlightBytes: number;
  overflow: OverflowPolicy;
}

/** Main to writer, first: build the handlers from `module` and start a listener. */
export interface WriterStart {
  kind: "start";
  module: string;
  args: unknown;
  settings: WriterListenerSettings;
  /** The name of the connection opened at start for the main thread's `handler()`. */
  mainSender: string;
}

/** Main to writer: a request the writer answers with a WriterReply of the same id. */
export type WriterRequest =
  | { kind: "connect"; id: number; name: string; index?: number }
  | { kind: "detach"; id: number; name: string }
  | { kind: "stats"; id: number }
  /** Ask every sender for its current batch (at most `graceMs`), then stop. */
  | { kind: "drain"; id: number; graceMs: number }
  | { kind: "stop"; id: number };

/** Why the writer could not start: its module, or a handler's setup(). */
export interface WriterStartFailure {
  kind: "start-failed";
  /** "module": loading or calling the handlers module; "setup": a handler's setup(). */
  stage: "module" | "setup";
  /** What failed, when a handler's setup() did. */
  error: ErrorDescription;
}

/** A handler's failure, as the writer's listener reported it to its onError. */
export interface WriterHandlerError {
  kind: "handler-error";
  handler: string;
  error: ErrorDescription;
  cause: ErrorDescription;
}

/** Writer to main. */
export type WriterMessage =
  | { kind: "started"; main: QueueConnection }
  | WriterStartFailure
  | WriterHandlerError
  | { kind: "reply"; id: number; value?: QueueConnection | ListenerStats }
  | { kind: "refused"; id: number; error: ErrorDescription };
