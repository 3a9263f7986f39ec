// Offline stand-in for jsr:@std/log@0.224.14 `get_logger.ts` (see STD_LOG_API.md).
import { Logger } from "./logger.ts";
import { state } from "./_state.ts";

/**
 * The configured logger of that name, or a new one at NOTSET with no
 * handlers. Without a name, the "default" logger.
 */
export function getLogger(name?: string): Logger {
  if (!name) {
    const defaultLogger = state.loggers.get("default");
    if (defaultLogger === undefined) {
      throw new Error(
        `"default" logger must be set for getting logger without name`,
      );
    }
    return defaultLogger;
  }
  const existing = state.loggers.get(name);
  if (existing) return existing;
  const logger = new Logger(name, "NOTSET", { handlers: [] });
  state.loggers.set(name, logger);
  return logger;
}
