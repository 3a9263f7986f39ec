// Offline stand-in for jsr:@std/log@0.224.14 `rotating_file_handler.ts` (see STD_LOG_API.md).
import type { LevelName } from "./levels.ts";
import { FileHandler, type FileHandlerOptions } from "./file_handler.ts";
import {
  encoderSymbol,
  filenameSymbol,
  fileSymbol,
  modeSymbol,
  openOptionsSymbol,
} from "./_file_handler_symbols.ts";

/** Options of {@linkcode RotatingFileHandler}. */
export interface RotatingFileHandlerOptions extends FileHandlerOptions {
  maxBytes: number;
  maxBackupCount: number;
}

/** A FileHandler that renames `file` to `file.1` … `file.N` before it would exceed `maxBytes`. */
export class RotatingFileHandler extends FileHandler {
  #maxBytes: number;
  #maxBackupCount: number;
  #currentFileSize = 0;

  constructor(levelName: LevelName, options: RotatingFileHandlerOptions) {
    super(levelName, options);
    this.#maxBytes = options.maxBytes;
    this.#maxBackupCount = options.maxBackupCount;
  }

  override setup() {
    if (this.#maxBytes < 1) {
      this.destroy();
      throw new Error(`"maxBytes" must be >= 1: received ${this.#maxBytes}`);
    }
    if (this.#maxBackupCount < 1) {
      this.destroy();
      throw new Error(
        `"maxBackupCount" must be >= 1: received ${this.#maxBackupCount}`,
      );
    }
    super.setup();
    const filename = this[filenameSymbol];
    if (this[modeSymbol] === "w") {
      for (let i = 1; i <= this.#maxBackupCount; i++) {
        try {
          Deno.removeSync(`${filename}.${i}`);
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        }
      }
    } else if (this[modeSymbol] === "x") {
      for (let i = 1; i <= this.#maxBackupCount; i++) {
        if (existsSync(`${filename}.${i}`)) {
          this.destroy();
          throw new Deno.errors.AlreadyExists(
            `Backup log file ${filename}.${i} already exists`,
          );
        }
      }
    } else {
      this.#currentFileSize = Deno.statSync(filename).size;
    }
  }

  override log(msg: string) {
    const msgByteLength = this[encoderSymbol].encode(msg).byteLength + 1;
    if (this.#currentFileSize + msgByteLength > this.#maxBytes) {
      this.rotateLogFiles();
      this.#currentFileSize = 0;
    }
    super.log(msg);
    this.#currentFileSize += msgByteLength;
  }

  rotateLogFiles() {
    this.flush();
    this[fileSymbol]!.close();
    const filename = this[filenameSymbol];
    for (let i = this.#maxBackupCount - 1; i >= 0; i--) {
      const source = filename + (i === 0 ? "" : `.${i}`);
      if (existsSync(source)) Deno.renameSync(source, `${filename}.${i + 1}`);
    }
    this[fileSymbol] = Deno.openSync(filename, this[openOptionsSymbol]);
  }
}

// Upstream imports this from @std/fs/exists.
function existsSync(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
