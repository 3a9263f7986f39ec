// Offline stand-in for jsr:@std/log@0.224.14 `base_handler.ts` (see STD_LOG_API.md).
import { getLevelByName, getLevelName, type LevelName, type LogLevel } from "./levels.ts";
import type { LogRecord } from "./logger.ts";

// As upstream: a type-only re-export, so through `@std/log` the name
// `LogRecord` is a type, and the class must come from `@std/log/logger`.
export type { LogRecord } from "./logger.ts";

/** Turns a record into one line of text. */
export type FormatterFunction = (logRecord: LogRecord) => string;

const DEFAULT_FORMATTER: FormatterFunction = ({ levelName, msg }) => `${levelName} ${msg}`;

/** Options of {@linkcode BaseHandler}. */
export interface BaseHandlerOptions {
  formatter?: FormatterFunction;
}

/** The base of every handler: level check, format, then `log()`. */
export abstract class BaseHandler {
  #levelName: LevelName;
  #level: LogLevel;
  formatter: FormatterFunction;

  constructor(
    levelName: LevelName,
    { formatter = DEFAULT_FORMATTER }: BaseHandlerOptions = {},
  ) {
    this.#levelName = levelName;
    this.#level = getLevelByName(levelName);
    this.formatter = formatter;
  }

  get level(): LogLevel {
    return this.#level;
  }
  set level(level: LogLevel) {
    this.#level = level;
    this.#levelName = getLevelName(level);
  }

  get levelName(): LevelName {
    return this.#levelName;
  }
  set levelName(levelName: LevelName) {
    this.#levelName = levelName;
    this.#level = getLevelByName(levelName);
  }

  handle(logRecord: LogRecord) {
    if (this.level > logRecord.level) return;
    const msg = this.format(logRecord);
    this.log(msg);
  }

  format(logRecord: LogRecord): string {
    return this.formatter(logRecord);
  }

  abstract log(msg: string): void;
  setup() {}
  destroy() {}

  [Symbol.dispose]() {
    this.destroy();
  }
}
