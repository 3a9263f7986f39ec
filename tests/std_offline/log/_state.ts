// Offline stand-in for jsr:@std/log@0.224.14 `_state.ts`.
import type { BaseHandler } from "./base_handler.ts";
import type { Logger } from "./logger.ts";
import { DEFAULT_CONFIG } from "./_config.ts";
import type { LogConfig } from "./logger.ts";

export const state: {
  handlers: Map<string, BaseHandler>;
  loggers: Map<string, Logger>;
  config: LogConfig;
} = {
  handlers: new Map(),
  loggers: new Map(),
  config: DEFAULT_CONFIG,
};
