// The worker a forwarding handler (SyslogHandler, OtlpHandler) does its
// network I/O in.
//
// Why: the handlers run on the listener's thread. While workers flood the
// listener's MessagePorts, Deno's event loop keeps running JavaScript for
// port messages and does not poll the operating system for network events:
// a connect started during the flood completed only when logging stopped,
// and reads (RELP acknowledgements, a peer's close, fetch responses) waited
// the same way, so records piled up in the buffer and were dropped. The same
// socket work in a worker of its own, whose event loop nothing floods, goes
// on at once. So the handler renders and accounts on the listener's thread
// and hands chunks of work to its I/O worker, which connects, sends, reads
// and reports progress back.
//
// Why node:worker_threads and not a Web Worker: a Web Worker keeps the
// process alive until it is terminated, and a handler used on its own that
// its user never closes must not keep a finished program running (the
// handlers promise that an idle handler does not). A worker_threads Worker
// can be unref'd (see `listen()` for how the program waits for it when it
// must). It inherits the parent's permissions.
//
// Why requests go over a MessageChannel of their own: Deno's
// node:worker_threads postMessage serialises a 200 KiB Uint8Array in about
// 25 ms (element by element, it seems); over a web MessagePort the same
// transfer takes well under 1 ms. The handler never listens on its end of
// that channel, so it keeps nothing alive.
//
// Reports come back on the worker's own channel, which is slow in another
// way: while workers flood the listener's ports, its messages wait with the
// network events (600 ms and more), while a MessagePort's are taken in turn
// with the flood's. So a handler that must hear back promptly (OtlpHandler:
// a finished request frees a slot) calls `listen()`, which hands the worker
// a reply port; a port with a listener keeps the program alive, so it is
// closed again (`unlisten()`) whenever the program may end without it.
// Even a port's messages wait behind a flood (250 ms measured), so the
// handler also takes them synchronously (`takeReports()`) from flush(),
// which the listener calls every turn.
import { parentPort, receiveMessageOnPort, Worker } from "node:worker_threads";

/** The handler's side of its I/O worker. */
export class IoWorker<Request, Report> {
  readonly #worker: Worker;
  readonly #requests: MessagePort;
  readonly #onReport: (report: Report) => void;
  #replies: MessagePort | undefined;
  #terminated = false;

  /** Starts the worker on `module`, unref'd; `onReport` gets its messages, `onFailure` its crash. */
  constructor(
    module: URL,
    onReport: (report: Report) => void,
    onFailure: (error: Error) => void,
  ) {
    this.#worker = new Worker(module);
    this.#worker.unref();
    const { port1, port2 } = new MessageChannel();
    this.#requests = port1;
    // deno-lint-ignore no-explicit-any -- a web MessagePort, which Deno's worker_threads take
    this.#worker.postMessage(port2, [port2 as any]);
    this.#onReport = onReport;
    this.#worker.on("message", onReport);
    this.#worker.on("error", (error: unknown) => {
      if (!this.#terminated) onFailure(error instanceof Error ? error : new Error(String(error)));
    });
  }

  /** Posts `request`, moving the buffers in `transfer`. */
  post(request: Request, transfer: ArrayBuffer[] = []): void {
    if (!this.#terminated) this.#requests.postMessage(request, transfer);
  }

  /** Reports come on a port of their own from now on: promptly, and keeping the program alive. */
  listen(): void {
    if (this.#terminated || this.#replies !== undefined) return;
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = ({ data }) => this.#onReport(data);
    this.#replies = port1;
    this.#requests.postMessage({ [REPLY_PORT]: port2 }, [port2]);
  }

  /** Handles the reports waiting on the reply port now, without waiting for the event loop. */
  takeReports(): void {
    for (;;) {
      const replies = this.#replies;
      // deno-lint-ignore no-explicit-any -- a web MessagePort, which Deno's receiveMessageOnPort takes
      const received = replies && receiveMessageOnPort(replies as any);
      if (received === undefined) return;
      this.#onReport(received.message);
    }
  }

  /**
   * Reports come on the worker's channel again, which keeps nothing alive.
   * Call it only when no report is due on the reply port: one sent there
   * after this is lost.
   */
  unlisten(): void {
    this.#replies?.close();
    this.#replies = undefined;
  }

  /** Stops the worker at once; what it held is gone. Idempotent. */
  terminate(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#worker.removeAllListeners();
    this.#requests.close();
    this.unlisten();
    this.#worker.terminate();
  }
}

/**
 * Inside an I/O worker: calls `onRequest` with each of the handler's
 * requests, in order; returns the function that sends a report back.
 */
export function serveIo<Request, Report>(
  onRequest: (request: Request) => void,
): (report: Report) => void {
  if (parentPort === null) throw new Error("this module runs only as a handler's I/O worker");
  const handler = parentPort;
  let replies: MessagePort | undefined;
  handler.once("message", (requests: MessagePort) => {
    requests.onmessage = ({ data }) => {
      if (data?.[REPLY_PORT] instanceof MessagePort) replies = data[REPLY_PORT];
      else onRequest(data);
    };
  });
  return (report) => (replies ?? handler).postMessage(report);
}

/** The key of the message that hands the worker a reply port. */
const REPLY_PORT = "workerlog.replyPort";
