/**
 * workerlog: many Web Workers, one log file. Python's QueueHandler +
 * QueueListener for Deno and the @std/log package.
 *
 * Workers log with plain @std/log calls; a {@linkcode QueueHandler} in each
 * worker streams the records, batched, over a MessagePort to one
 * {@linkcode QueueListener} on the main thread, which hands them to ordinary
 * handlers of the @std/log package (FileHandler, RotatingFileHandler,
 * ConsoleHandler, any BaseHandler). {@linkcode spawn} starts N workers (or
 * N processes) wired that way and joins them. Other processes log into the
 * same listener over a socket ({@linkcode setupProcessLogging}), and the
 * instances of `deno serve --parallel` elect one writer among themselves
 * ({@linkcode setupSharedLogging}).
 *
 * @example Spawn four workers that log into one file
 * ```ts ignore
 * import { spawn, textFormatter } from "@workerlog/workerlog";
 * import { FileHandler } from "@std/log";
 *
 * await spawn(new URL("./worker.ts", import.meta.url), {
 *   count: 4,
 *   handlers: [new FileHandler("INFO", { filename: "out.log", formatter: textFormatter })],
 * });
 * ```
 *
 * @module
 */
// Senders: where records are logged.
export { QueueHandler, type QueueHandlerOptions } from "./sender/queue_handler.ts";
export { setupWorkerLogging, type WorkerLoggingOptions } from "./sender/setup_worker_logging.ts";
export {
  ProcessHandler,
  type ProcessHandlerOptions,
  type ProcessHandlerStats,
} from "./sender/process_handler.ts";
export { type ProcessLoggingOptions, setupProcessLogging } from "./sender/setup_process_logging.ts";

// The listener: where records are written.
export {
  type ConnectOptions,
  type ListenerStats,
  type OverflowPolicy,
  QueueListener,
  type QueueListenerOptions,
  type SenderStats,
} from "./listener/queue_listener.ts";
export {
  MAIN_THREAD_SENDER,
  WriterListener,
  type WriterListenerOptions,
} from "./listener/writer_listener.ts";
export {
  type ListenInfo,
  type ListenOptions,
  type PeerStats,
  type RefusalReason,
} from "./listener/_socket_server.ts";
export { readResumePoints, type ResumePointsOptions } from "./listener/resume_points.ts";
export type { LinesWriter } from "./listener/_fan_out.ts";

// Both sides, and spawn() and setupSharedLogging(), which compose them.
export { WorkerLogRecord, type WorkerLogRecordOptions } from "./common/worker_log_record.ts";
export type { LoggerOptions, LoggingOptions } from "./common/logging_options.ts";
export type { LogsLines, ReportsErrors } from "./common/handler_hooks.ts";
export type { QueueConnection } from "./common/_wire.ts";
export type { PostTarget } from "./common/_flow.ts";
export {
  spawn,
  type SpawnOptions,
  type SpawnProcessOptions,
  type SpawnRun,
  type WorkerContext,
} from "./spawn/spawn.ts";
export {
  setupSharedLogging,
  type SharedLogging,
  type SharedLoggingOptions,
  type SharedLoggingStats,
} from "./election/setup_shared_logging.ts";

// Sinks: handlers the listener writes to.
export { BatchFileHandler, type BatchFileHandlerOptions } from "./sinks/batch_file_handler.ts";
export {
  type SyslogFacility,
  SyslogHandler,
  type SyslogHandlerOptions,
  type SyslogStats,
  type SyslogTransport,
} from "./sinks/syslog_handler.ts";
export {
  type AttributeValue,
  OtlpHandler,
  type OtlpHandlerOptions,
  type OtlpHandlerStats,
} from "./sinks/otlp_handler.ts";

export { textFormatter } from "./formatters/text_formatter.ts";
export { jsonLinesFormatter } from "./formatters/json_lines_formatter.ts";

export {
  type ErrorDescription,
  ForwardingError,
  HandlerError,
  HandlerModuleError,
  HandlerSetupError,
  InvalidOptionError,
  ListenerStateError,
  LogFileReplacedError,
  LogWriteError,
  ModuleNotFoundError,
  OtlpExportError,
  type OtlpFault,
  WorkerError,
  WorkerlogError,
  WriterStartError,
} from "./errors.ts";
