import {
  BaseHandler,
  type BaseHandlerOptions,
  type LevelName,
  LogLevels,
  type LogMode,
  type LogRecord,
} from "@std/log";
import { ensureDirSync } from "@std/fs";
import { InvalidOptionError, LogFileReplacedError } from "../errors.ts";

/**
 * Options of {@linkcode BatchFileHandler}.
 *
 * @example Truncate on start, 1 MiB buffer
 * ```ts
 * import { BatchFileHandler, type BatchFileHandlerOptions } from "@workerlog/workerlog";
 *
 * const options: BatchFileHandlerOptions = { filename: "logs/app.log", mode: "w", bufferSize: 1 << 20 };
 * const handler = new BatchFileHandler("INFO", options);
 * ```
 */
export interface BatchFileHandlerOptions extends BaseHandlerOptions {
  /** The log file. Its directory is created if missing. */
  filename: string;
  /** "a" appends (default), "w" truncates, "x" fails if the file exists. */
  mode?: LogMode;
  /** Bytes buffered before a write. Default: 65,536. */
  bufferSize?: number;
}

/**
 * A file handler built for the listener: it takes whole batches of finished
 * lines (from workers that format their own records, `preformat`) and
 * encodes them straight into one buffer, which goes to the file in one write
 * when it fills and at the end of every event-loop turn. Records handed to
 * it one by one work too, as with @std/log's FileHandler: buffered, flushed
 * on CRITICAL, on `flush()`, on `destroy()` and when the process unloads.
 *
 * @example Workers format, the listener only writes
 * ```ts ignore
 * import { BatchFileHandler, spawn } from "@workerlog/workerlog";
 *
 * await spawn(new URL("./worker.ts", import.meta.url), {
 *   count: 4,
 *   handlers: [new BatchFileHandler("INFO", { filename: "logs/out.log" })],
 *   preformat: true,
 * });
 * ```
 */
export class BatchFileHandler extends BaseHandler {
  /** The log file's path. */
  readonly filename: string;
  readonly #openOptions: Deno.OpenOptions;
  readonly #buffer: Uint8Array;
  readonly #encoder = new TextEncoder();
  #used = 0;
  #file: Deno.FsFile | undefined;
  #unload = () => this.destroy();

  /** Builds the handler; the file is opened by `setup()`. */
  constructor(levelName: LevelName, options: BatchFileHandlerOptions) {
    super(levelName, options);
    const { filename, mode = "a", bufferSize = 65_536 } = options;
    if (typeof filename !== "string" || filename === "") {
      throw new InvalidOptionError("filename", filename, "the path of the log file");
    }
    if (!Number.isInteger(bufferSize) || bufferSize < 64) {
      throw new InvalidOptionError("bufferSize", bufferSize, "a whole number of at least 64");
    }
    this.filename = filename;
    this.#openOptions = {
      createNew: mode === "x",
      create: mode !== "x",
      append: mode === "a",
      truncate: mode !== "a",
      write: true,
    };
    this.#buffer = new Uint8Array(bufferSize);
  }

  /** Creates the file's directory if needed and opens the file. */
  override setup(): void {
    this.#open(this.#openOptions);
    this.#used = 0;
    addEventListener("unload", this.#unload);
  }

  /** Writes the record, and flushes at once when it is CRITICAL. */
  override handle(record: LogRecord): void {
    super.handle(record);
    if (record.level > LogLevels.ERROR) this.flush();
  }

  /** Buffers one line. */
  log(msg: string): void {
    this.writeLines(msg + "\n");
  }

  /** Buffers whole lines, each ending in "\n"; writes whenever the buffer fills. */
  writeLines(text: string): void {
    let rest = text;
    for (;;) {
      const { read, written } = this.#encoder.encodeInto(rest, this.#buffer.subarray(this.#used));
      this.#used += written;
      if (read === rest.length) return;
      rest = rest.slice(read);
      this.#write();
    }
  }

  /**
   * Writes the buffer to the file. If the file was deleted, its directory
   * removed, or another file put in its place since the last flush, it is
   * created again first (as Python's WatchedFileHandler does), the buffer
   * written there, and then a LogFileReplacedError thrown, so that the
   * listener reports it through `onError`.
   */
  flush(): void {
    if (this.#file === undefined) return;
    const replaced = this.#replacement();
    if (replaced !== undefined) {
      this.#file.close();
      this.#open({ create: true, append: true, write: true });
    }
    this.#write();
    if (replaced !== undefined) throw new LogFileReplacedError(this.filename, replaced);
  }

  #write() {
    if (this.#used === 0 || this.#file === undefined) return;
    const bytes = this.#buffer.subarray(0, this.#used);
    // Dropped even if the write fails: a disk that refuses one buffer must
    // not make every later record fail with it.
    this.#used = 0;
    let written = 0;
    while (written < bytes.length) written += this.#file.writeSync(bytes.subarray(written));
  }

  #open(options: Deno.OpenOptions) {
    const slash = Math.max(this.filename.lastIndexOf("/"), this.filename.lastIndexOf("\\"));
    if (slash > 0) ensureDirSync(this.filename.slice(0, slash));
    this.#file = Deno.openSync(this.filename, options);
  }

  // What happened to the path since the file was opened, if anything.
  #replacement(): "deleted" | "replaced" | undefined {
    const open = this.#file!.statSync();
    if (open.ino === null) return undefined; // no inodes to compare (Windows)
    try {
      const onDisk = Deno.statSync(this.filename);
      return onDisk.ino === open.ino && onDisk.dev === open.dev ? undefined : "replaced";
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return "deleted";
      throw error;
    }
  }

  /** Flushes and closes the file. */
  override destroy(): void {
    try {
      this.flush();
    } finally {
      this.#file?.close();
      this.#file = undefined;
      removeEventListener("unload", this.#unload);
    }
  }
}
