// Offline stand-in for jsr:@std/log@0.224.14 `console_handler.ts` (see STD_LOG_API.md).
import { type LevelName, LogLevels } from "./levels.ts";
import type { LogRecord } from "./logger.ts";
import { BaseHandler, type BaseHandlerOptions } from "./base_handler.ts";

/** Options of {@linkcode ConsoleHandler}. */
export interface ConsoleHandlerOptions extends BaseHandlerOptions {
  useColors?: boolean;
}

// Upstream takes these from @std/fmt/colors, which also honours NO_COLOR.
function paint(open: number, close: number): (text: string) => string {
  return (text) => Deno.noColor ? text : `\x1b[${open}m${text}\x1b[${close}m`;
}
const blue = paint(34, 39);
const yellow = paint(33, 39);
const red = paint(31, 39);
const bold = paint(1, 22);

/** Writes each line with `console.log`, coloured by level unless told not to. */
export class ConsoleHandler extends BaseHandler {
  #useColors?: boolean;

  constructor(levelName: LevelName, options: ConsoleHandlerOptions = {}) {
    super(levelName, options);
    this.#useColors = options.useColors ?? true;
  }

  override format(logRecord: LogRecord): string {
    const msg = super.format(logRecord);
    return this.#useColors ? this.applyColors(msg, logRecord.level) : msg;
  }

  applyColors(msg: string, level: number): string {
    switch (level) {
      case LogLevels.INFO:
        return blue(msg);
      case LogLevels.WARN:
        return yellow(msg);
      case LogLevels.ERROR:
        return red(msg);
      case LogLevels.CRITICAL:
        return bold(red(msg));
      default:
        return msg;
    }
  }

  log(msg: string) {
    console.log(msg);
  }
}
