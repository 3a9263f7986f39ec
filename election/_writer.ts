/**
 * The writer role: what the elected instance runs besides serving. A
 * QueueListener with the caller's handlers, listening on the shared socket,
 * that never keeps the instance alive by itself: the instance stops it when
 * it leaves (shared_logging.ts).
 *
 * @module
 */
import type { BaseHandler } from "@std/log";
import { InvalidOptionError, WriterStartError } from "../errors.ts";
import {
  type ListenOptions,
  QueueListener,
  type QueueListenerOptions,
} from "../listener/queue_listener.ts";

/** What the writer role needs to start. */
export interface WriterSettings {
  /** The shared socket. */
  path: string;
  token: string;
  /** Called once per start: the handlers the new listener owns. */
  handlers: () => BaseHandler[];
  /** What the log already holds per sender, read before the handlers open it. */
  resume?: () => ListenOptions["resume"] | Promise<ListenOptions["resume"]>;
  listenerOptions: Omit<QueueListenerOptions, "handleSignals">;
}

/**
 * Starts the listener; the caller holds the lock. Throws a
 * WriterStartError that says what failed, with nothing left running.
 */
export async function startWriter(settings: WriterSettings): Promise<QueueListener> {
  let listener: QueueListener | undefined;
  try {
    const resume = settings.resume ? await settings.resume() : undefined;
    const handlers = settings.handlers();
    checkAppending(handlers);
    // No signal handling of its own: its drain ends with Deno.exit(), which
    // in `deno serve --parallel` would end every other instance mid-request.
    listener = new QueueListener(handlers, { ...settings.listenerOptions, handleSignals: false })
      .start();
    await listener.listen({
      path: settings.path,
      token: settings.token,
      keepAlive: false,
      ...(resume === undefined ? {} : { resume }),
    });
    return listener;
  } catch (error) {
    await listener?.stop().catch(() => {});
    throw new WriterStartError(settings.path, error);
  }
}

// A writer that takes over opens the same files again: a FileHandler that
// truncates ("w") or insists on a new file ("x") would lose or refuse what
// the last writer wrote. FileHandler keeps its mode under a symbol of its
// own; that is looked up by its description.
function checkAppending(handlers: unknown) {
  if (!Array.isArray(handlers)) {
    throw new InvalidOptionError(
      "handlers",
      handlers,
      "a function that returns an array of @std/log handlers",
    );
  }
  for (const handler of handlers) {
    const mode = modeOf(handler);
    if (mode !== undefined && mode !== "a") {
      throw new InvalidOptionError(
        "handlers",
        `${handler.constructor?.name ?? "a handler"} (mode ${String(mode)})`,
        'handlers that append (FileHandler mode "a", the default): an instance that takes ' +
          "over as writer opens the file again",
      );
    }
  }
}

// @std/log's FileHandler keeps its mode under a private symbol; a handler
// that shows a `mode` (BatchFileHandler) is taken at its word.
function modeOf(handler: object): unknown {
  for (const key of Object.getOwnPropertySymbols(handler)) {
    if (key.description === "mode") return (handler as Record<symbol, unknown>)[key];
  }
  return (handler as { mode?: unknown }).mode;
}
