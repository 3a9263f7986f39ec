import type { LevelName } from "@std/log";
import { parseAddress } from "../common/_address.ts";
import { DROPPED } from "../common/_flow.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../common/_frames.ts";
import { UNLISTED } from "../common/_wire.ts";
import { checkSenderName, checkWholeNumber } from "../common/_options.ts";
import { InvalidOptionError } from "../errors.ts";
import { QueueHandler, type QueueHandlerOptions } from "./queue_handler.ts";
import { SocketSender } from "./_socket_sender.ts";

/** What a process keeps for the listener, unless `maxBufferBytes` says otherwise. */
export const DEFAULT_MAX_BUFFER_BYTES = 16 * 1024 * 1024;

/**
 * For setupProcessLogging(): tells the listener that a logger nobody listed
 * was routed to it. Defined in the class (a static block) to reach its
 * sender without making it public.
 */
export let noticeUnlisted: (handler: ProcessHandler, logger: string, level: LevelName) => void;

/**
 * For setupSharedLogging(): calls `callback` whenever this handler's
 * connect finds nothing listening at the address (refused, or no socket
 * file), so that the instance can try to become the listener. Defined in
 * the class, like noticeUnlisted.
 */
export let watchUnreachable: (handler: ProcessHandler, callback: () => void) => void;

/**
 * Options of {@linkcode ProcessHandler}.
 *
 * @example
 * ```ts
 * import type { ProcessHandlerOptions } from "@workerlog/workerlog";
 *
 * const options: ProcessHandlerOptions = {
 *   address: "unix:/tmp/workerlog-abc/listener.sock",
 *   token: "the token listen() returned",
 *   name: "indexer",
 *   maxBufferBytes: 64 * 1024 * 1024,
 * };
 * ```
 */
export interface ProcessHandlerOptions extends Omit<QueueHandlerOptions, "connection"> {
  /** The listener's address, as `listen()` returns it, e.g. "unix:/tmp/workerlog-x/listener.sock". */
  address: string;
  /** The listener's token, as `listen()` returns it. */
  token: string;
  /**
   * This process's name in records. It must stay the same across
   * reconnects and differ from every other sender's. Default: "process-PID".
   */
  name?: string;
  /**
   * At most about this many bytes (of messages, lines and args, counted as
   * string lengths) are kept until the listener acknowledges them; past it,
   * records are dropped and counted, and the listener writes one WARN record
   * with the count once this process is back. Default: 16 MiB.
   */
  maxBufferBytes?: number;
  /** Batches that encode to more than this are dropped (and counted). Default: 64 MiB. */
  maxFrameBytes?: number;
  /** CA certificates (PEM) to trust for a "tls:" address, besides the system's. */
  caCerts?: string[];
}

/**
 * Counters of a {@linkcode ProcessHandler}.
 *
 * @example
 * ```ts ignore
 * const { connected, unacknowledgedRecords, dropped } = handler.stats();
 * ```
 */
export interface ProcessHandlerStats {
  /** Whether a socket to the listener is open and welcomed now. */
  connected: boolean;
  /** Connections opened (and welcomed) so far. */
  connections: number;
  /** Batches kept until the listener acknowledges them. */
  unacknowledgedBatches: number;
  /** Their records. */
  unacknowledgedRecords: number;
  /** Their encoded size in bytes. */
  unacknowledgedBytes: number;
  /** The last seq the listener acknowledged (every seq below it is written). */
  acknowledged: number;
  /** Why the listener last refused this sender, if it did. */
  refusal: string | undefined;
  /** Records dropped because the buffer was full (or a batch passed maxFrameBytes). */
  dropped: number;
}

/**
 * A {@linkcode QueueHandler} that sends to a {@linkcode QueueListener} in
 * another process, over the socket `listener.listen()` opened. Batches are
 * kept until the listener acknowledges them, and sent again after a
 * reconnect (also to a listener restarted at the same address), where the
 * listener writes each record once. Logging never blocks: when the buffer
 * is full, records are dropped and counted.
 *
 * The socket never keeps a finished program alive: `await handler.flush()`
 * (which resolves once the listener has written everything logged before)
 * before the program ends, or the last batches may be lost.
 * `setupProcessLogging()` makes one and routes the @std/log package to it.
 *
 * @example Log into a listener in another process
 * ```ts ignore
 * import { ProcessHandler } from "@workerlog/workerlog";
 * import { Logger } from "@std/log";
 *
 * await using handler = new ProcessHandler("INFO", {
 *   address: Deno.env.get("WORKERLOG_ADDRESS")!,
 *   token: Deno.env.get("WORKERLOG_TOKEN")!,
 * });
 * new Logger("app", "INFO", { handlers: [handler] }).info("from another process");
 * await handler.flush();
 * ```
 */
export class ProcessHandler extends QueueHandler implements AsyncDisposable {
  /** The listener's address. */
  readonly address: string;
  readonly #sender: SocketSender;

  /** Starts connecting at once; records logged before the listener answers are kept. */
  constructor(levelName: LevelName, options: ProcessHandlerOptions) {
    const sender = openSender(options);
    const maxBufferBytes = checkWholeNumber(
      "maxBufferBytes",
      options.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES,
    );
    super(levelName, {
      ...options,
      connection: {
        port: sender,
        name: sender.name,
        shared: sender.flow.buffer as SharedArrayBuffer,
        maxInFlightBytes: maxBufferBytes,
        overflow: "drop",
      },
    });
    this.address = options.address;
    this.#sender = sender;
  }

  /** The counters. */
  stats(): ProcessHandlerStats {
    return { ...this.#sender.stats(), dropped: Atomics.load(this.#sender.flow, DROPPED) };
  }

  /** Closes the socket; records logged later are not sent. Does not wait. */
  close(): void {
    this.destroy();
    this.#sender.close();
  }

  /** Waits until the listener has written everything logged so far, then closes. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.flush();
    this.close();
  }

  static {
    noticeUnlisted = (handler, logger, level) =>
      handler.#sender.postMessage({ kind: UNLISTED, logger, level });
    watchUnreachable = (handler, callback) => handler.#sender.onUnreachable = callback;
  }
}

function openSender(options: ProcessHandlerOptions): SocketSender & { name: string } {
  const address = parseAddress("address", options?.address);
  const token = options.token;
  if (typeof token !== "string" || token === "") {
    throw new InvalidOptionError(
      "token",
      token === undefined ? undefined : "(hidden)",
      "the token listener.listen() returned (WORKERLOG_TOKEN in the child's environment)",
    );
  }
  const name = checkSenderName("name", options.name ?? `process-${Deno.pid}`);
  const maxFrameBytes = checkWholeNumber(
    "maxFrameBytes",
    options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    1024,
  );
  const sender = new SocketSender({
    address,
    token,
    name,
    maxFrameBytes,
    ...(options.caCerts ? { caCerts: options.caCerts } : {}),
  });
  return Object.assign(sender, { name });
}
