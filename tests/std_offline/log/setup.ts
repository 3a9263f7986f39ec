// Offline stand-in for jsr:@std/log@0.224.14 `setup.ts` (see STD_LOG_API.md).
import type { BaseHandler } from "./base_handler.ts";
import { type LogConfig, Logger } from "./logger.ts";
import { DEFAULT_CONFIG, DEFAULT_LEVEL } from "./_config.ts";
import { state } from "./_state.ts";

/**
 * Merges `config` over the defaults, destroys every handler set up before,
 * sets up the configured handlers and rebuilds every logger.
 */
export function setup(config: LogConfig) {
  state.config = {
    handlers: { ...DEFAULT_CONFIG.handlers, ...config.handlers },
    loggers: { ...DEFAULT_CONFIG.loggers, ...config.loggers },
  };

  state.handlers.forEach((handler) => handler.destroy());
  state.handlers.clear();
  for (const [name, handler] of Object.entries(state.config.handlers ?? {})) {
    handler.setup();
    state.handlers.set(name, handler);
  }

  state.loggers.clear();
  for (const [name, loggerConfig] of Object.entries(state.config.loggers ?? {})) {
    const handlers = (loggerConfig.handlers ?? [])
      .map((handlerName) => state.handlers.get(handlerName))
      .filter((handler): handler is BaseHandler => handler !== undefined);
    const levelName = loggerConfig.level ?? DEFAULT_LEVEL;
    state.loggers.set(name, new Logger(name, levelName, { handlers }));
  }
}

setup(DEFAULT_CONFIG);
