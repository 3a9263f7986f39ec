// Offline stand-in for jsr:@std/log@0.224.14 `file_handler.ts` (see STD_LOG_API.md).
import { type LevelName, LogLevels } from "./levels.ts";
import type { LogRecord } from "./logger.ts";
import { BaseHandler, type BaseHandlerOptions } from "./base_handler.ts";
import {
  bufSymbol,
  encoderSymbol,
  filenameSymbol,
  fileSymbol,
  modeSymbol,
  openOptionsSymbol,
  pointerSymbol,
} from "./_file_handler_symbols.ts";

/** "a" appends, "w" truncates, "x" creates a new file and fails if it exists. */
export type LogMode = "a" | "w" | "x";

/** Options of {@linkcode FileHandler}. */
export interface FileHandlerOptions extends BaseHandlerOptions {
  filename: string;
  mode?: LogMode;
  bufferSize?: number;
}

/**
 * Buffers lines in memory and writes them to a file; flushes on CRITICAL, on
 * `flush()`, on `destroy()` and on the `unload` event.
 */
export class FileHandler extends BaseHandler {
  [fileSymbol]: Deno.FsFile | undefined;
  [bufSymbol]: Uint8Array;
  [pointerSymbol] = 0;
  [filenameSymbol]: string;
  [modeSymbol]: LogMode = "a";
  [openOptionsSymbol]: Deno.OpenOptions;
  [encoderSymbol]: TextEncoder = new TextEncoder();
  #unloadCallback = (() => this.destroy()).bind(this);

  constructor(levelName: LevelName, options: FileHandlerOptions) {
    super(levelName, options);
    this[filenameSymbol] = options.filename;
    this[modeSymbol] = options.mode ?? "a";
    this[openOptionsSymbol] = {
      createNew: this[modeSymbol] === "x",
      create: this[modeSymbol] !== "x",
      append: this[modeSymbol] === "a",
      truncate: this[modeSymbol] !== "a",
      write: true,
    };
    this[bufSymbol] = new Uint8Array(options.bufferSize ?? 4096);
  }

  override setup() {
    this[fileSymbol] = Deno.openSync(
      this[filenameSymbol],
      this[openOptionsSymbol],
    );
    this[pointerSymbol] = 0;
    addEventListener("unload", this.#unloadCallback);
  }

  override handle(logRecord: LogRecord) {
    super.handle(logRecord);
    if (logRecord.level > LogLevels.ERROR) this.flush();
  }

  log(msg: string) {
    const bytes = this[encoderSymbol].encode(msg + "\n");
    if (bytes.byteLength > this[bufSymbol].byteLength - this[pointerSymbol]) {
      this.flush();
    }
    if (bytes.byteLength > this[bufSymbol].byteLength) {
      writeAllSync(this[fileSymbol]!, bytes);
    } else {
      this[bufSymbol].set(bytes, this[pointerSymbol]);
      this[pointerSymbol] += bytes.byteLength;
    }
  }

  flush() {
    if (this[pointerSymbol] > 0 && this[fileSymbol]) {
      writeAllSync(
        this[fileSymbol],
        this[bufSymbol].subarray(0, this[pointerSymbol]),
      );
      this[pointerSymbol] = 0;
    }
  }

  override destroy() {
    this.flush();
    this[fileSymbol]?.close();
    this[fileSymbol] = undefined;
    removeEventListener("unload", this.#unloadCallback);
  }
}

// Upstream imports this from @std/io/write-all.
function writeAllSync(file: Deno.FsFile, bytes: Uint8Array) {
  let written = 0;
  while (written < bytes.byteLength) {
    written += file.writeSync(bytes.subarray(written));
  }
}
