/**
 * The module a WriterListener's writer worker runs: it builds the handlers
 * from the user's module, runs an ordinary QueueListener over them, and
 * answers the main thread's requests (connect, detach, stats, drain, stop).
 * Records reach it from each sender's own MessagePort; the main thread only
 * brokers the connections.
 *
 * writer_listener.ts imports this module too, so that it is part of the
 * program's module graph (`deno cache`, `deno compile`); it does something
 * only as the main module of a worker.
 *
 * @module
 */
import type { BaseHandler } from "@std/log";
import type { QueueConnection } from "../common/_wire.ts";
import { describeError, type HandlerError } from "../errors.ts";
import { workerScope } from "../sender/_worker_scope.ts";
import { collectBatches, QueueListener } from "./queue_listener.ts";
import type {
  WriterMessage,
  WriterRequest,
  WriterStart,
  WriterStartFailure,
} from "./_writer_control.ts";

if (import.meta.main && workerScope() !== undefined) {
  const scope = workerScope()!;
  const post = (message: WriterMessage, transfer: Transferable[] = []) =>
    (scope as unknown as { postMessage(m: unknown, t: Transferable[]): void })
      .postMessage(message, transfer);
  let writer: Writer | undefined;
  scope.onmessage = async (event: MessageEvent<WriterStart | WriterRequest>) => {
    const message = event.data;
    if (message.kind === "start") writer = await startWriter(message, post);
    else if (writer !== undefined) writer.answer(message);
  };
  // A handler failing in the background (an async callback) must not end
  // the writer: every other handler still has records to write.
  const reportUncaught = (event: Event, error: unknown) => {
    event.preventDefault();
    post(handlerError("the writer worker", error));
  };
  addEventListener("error", (event) => reportUncaught(event, event.error));
  addEventListener("unhandledrejection", (event) => reportUncaught(event, event.reason));
}

type Post = (message: WriterMessage, transfer?: Transferable[]) => void;

async function startWriter(start: WriterStart, post: Post): Promise<Writer | undefined> {
  let listener: QueueListener;
  try {
    const handlers = await buildHandlers(start.module, start.args);
    // QueueListener checks that they are handlers.
    listener = new QueueListener(handlers as BaseHandler[], {
      ...start.settings,
      handleSignals: false,
      onError: (error: HandlerError) => post(handlerError(error.handler, error.cause, error)),
    });
  } catch (error) {
    post(startFailure("module", error));
    return undefined;
  }
  try {
    listener.start();
  } catch (error) {
    post(startFailure("setup", error));
    return undefined;
  }
  const writer = new Writer(listener, post);
  const main = writer.connect(start.mainSender, undefined);
  post({ kind: "started", main }, [main.port as MessagePort]);
  return writer;
}

async function buildHandlers(module: string, args: unknown): Promise<unknown> {
  const exports = await import(module);
  const build = exports.handlers ?? exports.default;
  if (typeof build !== "function") {
    throw new TypeError(
      `it has no handlers function. Add one: ` +
        `export default (args) => [new FileHandler("INFO", { filename: "app.log" })]`,
    );
  }
  return await build(args);
}

function startFailure(stage: "module" | "setup", error: unknown): WriterStartFailure {
  return { kind: "start-failed", stage, error: describeError(error) };
}

function handlerError(handler: string, cause: unknown, error?: HandlerError): WriterMessage {
  return {
    kind: "handler-error",
    handler,
    error: describeError(error ?? cause),
    cause: describeError(cause),
  };
}

/** The writer's listener and the counters of every connection it opened. */
class Writer {
  readonly #listener: QueueListener;
  readonly #post: Post;

  constructor(listener: QueueListener, post: Post) {
    this.#listener = listener;
    this.#post = post;
  }

  connect(name: string, index: number | undefined): QueueConnection {
    return this.#listener.connect({ name, ...(index === undefined ? {} : { index }) });
  }

  async answer(request: WriterRequest) {
    const { id } = request;
    try {
      switch (request.kind) {
        case "connect": {
          const connection = this.connect(request.name, request.index);
          this.#post({ kind: "reply", id, value: connection }, [connection.port as MessagePort]);
          return;
        }
        case "detach":
          await this.#listener.detach(request.name);
          break;
        case "stats":
          this.#post({ kind: "reply", id, value: this.#listener.stats() });
          return;
        case "drain":
          await collectBatches(this.#listener, request.graceMs);
          await this.#listener.stop();
          break;
        case "stop":
          await this.#listener.stop();
          break;
      }
      this.#post({ kind: "reply", id });
    } catch (error) {
      this.#post({ kind: "refused", id, error: describeError(error) });
    }
  }
}
