/**
 * Routing for loggers nobody listed. The @std/log package has no logger
 * hierarchy: `getLogger("db")` for a name nobody configured makes a logger at
 * NOTSET with no handlers, whose records vanish without a trace. Every
 * logger of one copy of the package shares `Logger.prototype`, and every log
 * call reads the prototype's `level` getter first, so wrapping that getter
 * catches such a logger at its first log call, wherever it was made.
 *
 * @module
 */
import { type BaseHandler, type LevelName, Logger } from "@std/log";

const adopted = new WeakSet<Logger>();
let adopt: ((logger: Logger) => void) | undefined;

/**
 * From now on, a logger with no handlers at level NOTSET (what `getLogger()`
 * makes for an unconfigured name) gets `handler` and `level` at its first
 * log call, and `notice(name)` is called once for it.
 */
export function routeUnlistedLoggers(
  handler: BaseHandler,
  level: LevelName,
  notice: (name: string) => void,
): void {
  adopt = (logger) => {
    logger.handlers = [handler];
    logger.levelName = level;
    notice(logger.loggerName);
  };
  wrapLevelGetter();
}

/** Leaves loggers nobody listed as the package makes them again. */
export function stopRoutingUnlistedLoggers(): void {
  adopt = undefined;
}

let wrapped = false;

function wrapLevelGetter() {
  if (wrapped) return;
  wrapped = true;
  const level = Object.getOwnPropertyDescriptor(Logger.prototype, "level")!;
  const get = level.get!;
  Object.defineProperty(Logger.prototype, "level", {
    ...level,
    get(this: Logger) {
      if (adopt !== undefined && this.handlers.length === 0 && !adopted.has(this)) {
        adopted.add(this);
        if (get.call(this) === 0) adopt(this); // 0 is NOTSET: made by getLogger()
      }
      return get.call(this);
    },
  });
}
