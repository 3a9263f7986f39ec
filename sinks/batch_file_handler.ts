import {
  BaseHandler,
  type BaseHandlerOptions,
  type LevelName,
  LogLevels,
  type LogMode,
  type LogRecord,
} from "@std/log";
import { ensureDirSync } from "@std/fs/ensure-dir";
import { InvalidOptionError, LogFileReplacedError, LogWriteError } from "../errors.ts";

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
  /**
   * While writes fail (a full disk), at most about this many bytes are kept
   * to be written first once writes succeed again; past it, new lines are
   * dropped whole and counted in `droppedLines`. Default: 8 MiB.
   */
  maxKeptBytes?: number;
}

const NEWLINE = 10;
const MODES: readonly LogMode[] = ["a", "w", "x"];
const REOPEN: Deno.OpenOptions = { create: true, append: true, write: true };

/**
 * A file handler built for the listener: it takes whole batches of finished
 * lines (from workers that format their own records, `preformat`) and
 * encodes them straight into one buffer, which goes to the file in one write
 * when it fills and at the end of every event-loop turn. Records handed to
 * it one by one work too, as with @std/log's FileHandler: buffered, flushed
 * on CRITICAL, on `flush()`, on `destroy()` and when the process unloads.
 *
 * When writes fail (a full disk), the file never gets a torn line: the bytes
 * not written, including the rest of a line cut short by a short write, are
 * kept (up to `maxKeptBytes`) and written first once writes succeed again;
 * past the limit new lines are dropped whole and counted in `droppedLines`.
 * The failure is thrown (and so reported through the listener's `onError`)
 * once when writes start failing, and again only after a success.
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
  /** How the file is opened: "a" appends (the default), "w" truncates, "x" must be new. */
  readonly mode: LogMode;
  /** The most bytes kept while writes fail (see the option). */
  readonly maxKeptBytes: number;
  readonly #openOptions: Deno.OpenOptions;
  readonly #buffer: Uint8Array;
  readonly #encoder = new TextEncoder();
  #used = 0;
  #file: Deno.FsFile | undefined;
  #unload = () => this.destroy();
  // Bytes a failed write left unwritten, oldest first; the first may be the
  // rest of a line whose beginning is already in the file.
  #kept: Uint8Array[] = [];
  #keptBytes = 0;
  #failing = false;
  #faults = 0;
  #droppedLines = 0;
  // Between setup() and destroy(). Within, #file is undefined only while the
  // file cannot be opened again after it was replaced.
  #live = false;
  // The file's last byte is not a line end: the next bytes finish a line.
  #midLine = false;
  #replacedUnreported: LogFileReplacedError | undefined;

  /** Builds the handler; the file is opened by `setup()`. */
  constructor(levelName: LevelName, options: BatchFileHandlerOptions) {
    super(levelName, options);
    const { filename, mode = "a", bufferSize = 65_536, maxKeptBytes = 8 << 20 } = options;
    if (typeof filename !== "string" || filename === "") {
      throw new InvalidOptionError("filename", filename, "the path of the log file");
    }
    if (!MODES.includes(mode)) {
      throw new InvalidOptionError(
        "mode",
        mode,
        '"a" (append), "w" (truncate) or "x" (create, fail if it exists)',
      );
    }
    if (!Number.isInteger(bufferSize) || bufferSize < 64) {
      throw new InvalidOptionError("bufferSize", bufferSize, "a whole number of at least 64");
    }
    if (!Number.isInteger(maxKeptBytes) || maxKeptBytes < 0) {
      throw new InvalidOptionError(
        "maxKeptBytes",
        maxKeptBytes,
        "a whole number of bytes, 0 or more",
      );
    }
    this.filename = filename;
    this.mode = mode;
    this.maxKeptBytes = maxKeptBytes;
    this.#openOptions = {
      createNew: mode === "x",
      create: mode !== "x",
      append: mode === "a",
      truncate: mode !== "a",
      write: true,
    };
    this.#buffer = new Uint8Array(bufferSize);
  }

  /**
   * Lines dropped because writes failed and `maxKeptBytes` were already kept,
   * or because they were logged before `setup()` or after `destroy()`.
   */
  get droppedLines(): number {
    return this.#droppedLines;
  }

  /** Creates the file's directory if needed and opens the file. */
  override setup(): void {
    this.#open(this.#openOptions);
    this.#used = 0;
    this.#live = true;
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

  /**
   * Buffers whole lines, each ending in "\n"; writes whenever the buffer
   * fills. Throws a LogWriteError when writes start failing, after the whole
   * of `text` has been buffered or kept. Before `setup()` and after
   * `destroy()`, the lines are dropped and counted in `droppedLines`.
   */
  writeLines(text: string): void {
    if (!this.#live) {
      this.#droppedLines += countLines(text);
      return;
    }
    if (this.#keptBytes > this.maxKeptBytes) {
      // Writes have been failing and the fault is reported: one more try is
      // silent, and only if it fails too is `text` dropped.
      this.#write();
      if (this.#keptBytes > this.maxKeptBytes) {
        this.#droppedLines += countLines(text);
        return;
      }
    }
    let failure: LogWriteError | undefined;
    let rest = text;
    for (;;) {
      const { read, written } = this.#encoder.encodeInto(rest, this.#buffer.subarray(this.#used));
      this.#used += written;
      if (read === rest.length) break;
      rest = rest.slice(read);
      failure ??= this.#write();
    }
    if (failure) throw failure;
  }

  /**
   * Writes what is kept and the buffer to the file. If the file was
   * deleted, its directory removed, or another file put in its place since
   * the last flush, it is created again first (as Python's
   * WatchedFileHandler does), the buffer written there, and then a
   * LogFileReplacedError thrown, so that the listener reports it through
   * `onError`. Throws a LogWriteError when writes start failing, or when
   * the file cannot be created again: then what was buffered is kept, and the
   * next flush tries again.
   */
  flush(): void {
    if (!this.#live) return;
    const failure = this.#reopenIfReplaced() ?? this.#write();
    if (failure) throw failure;
    const report = this.#replacedUnreported;
    if (report === undefined || this.#file === undefined) return;
    this.#replacedUnreported = undefined;
    throw report;
  }

  /** Flushes and closes the file. What still cannot be written is counted in `droppedLines`. */
  override destroy(): void {
    try {
      this.flush();
    } finally {
      this.#droppedLines += this.#unwrittenLines();
      this.#kept = [];
      this.#keptBytes = 0;
      this.#used = 0;
      this.#file?.close();
      this.#file = undefined;
      this.#live = false;
      this.#replacedUnreported = undefined;
      removeEventListener("unload", this.#unload);
    }
  }

  // Opens the file again if it was replaced, or if that failed before.
  // Returns the error to throw when this failure starts a new fault.
  #reopenIfReplaced(): LogWriteError | undefined {
    if (this.#file !== undefined) {
      const replaced = this.#replacement();
      if (replaced === undefined) return undefined;
      this.#file.close();
      this.#file = undefined;
      this.#replacedUnreported = new LogFileReplacedError(this.filename, replaced);
    }
    try {
      this.#open(REOPEN);
    } catch (error) {
      return this.#fault(error);
    }
    return undefined;
  }

  // Writes the kept bytes, then the buffer. Returns the error to throw when
  // this failure starts a new fault; the bytes not written are kept.
  #write(): LogWriteError | undefined {
    // Behind kept bytes, or with no file open, the buffer is kept too: it is
    // free again either way, so a caller filling it always makes progress.
    if ((this.#keptBytes > 0 || this.#file === undefined) && this.#used > 0) {
      this.#keep(this.#buffer.slice(0, this.#used));
      this.#used = 0;
    }
    const file = this.#file;
    if (file === undefined || (this.#used === 0 && this.#keptBytes === 0)) return undefined;
    try {
      while (this.#kept.length > 0) {
        const chunk = this.#kept[0];
        const n = file.writeSync(chunk);
        this.#wrote(chunk, n);
        this.#keptBytes -= n;
        if (n === chunk.length) this.#kept.shift();
        else this.#kept[0] = chunk.subarray(n);
      }
      const bytes = this.#buffer.subarray(0, this.#used);
      let written = 0;
      try {
        while (written < bytes.length) {
          const n = file.writeSync(bytes.subarray(written));
          this.#wrote(bytes.subarray(written), n);
          written += n;
        }
      } finally {
        if (written < bytes.length) this.#keep(bytes.slice(written));
        this.#used = 0;
      }
    } catch (error) {
      return this.#fault(error);
    }
    this.#failing = false;
    return undefined;
  }

  // The error to throw when this failure starts a new fault.
  #fault(error: unknown): LogWriteError | undefined {
    if (this.#failing) return undefined;
    this.#failing = true;
    return new LogWriteError(this.filename, error, ++this.#faults, this.maxKeptBytes);
  }

  #wrote(bytes: Uint8Array, count: number) {
    if (count > 0) this.#midLine = bytes[count - 1] !== NEWLINE;
  }

  #keep(bytes: Uint8Array) {
    this.#kept.push(bytes);
    this.#keptBytes += bytes.length;
  }

  #open(options: Deno.OpenOptions) {
    const slash = Math.max(this.filename.lastIndexOf("/"), this.filename.lastIndexOf("\\"));
    if (slash > 0) ensureDirSync(this.filename.slice(0, slash));
    this.#file = Deno.openSync(this.filename, options);
    // The rest of a line begun in the file that was replaced would start the
    // new file with half a line: it is dropped instead.
    if (this.#midLine) this.#dropRestOfLine();
    this.#midLine = false;
  }

  #dropRestOfLine() {
    while (this.#kept.length > 0) {
      const chunk = this.#kept[0];
      const end = chunk.indexOf(NEWLINE);
      const cut = end < 0 ? chunk.length : end + 1;
      this.#keptBytes -= cut;
      if (cut === chunk.length) this.#kept.shift();
      else this.#kept[0] = chunk.subarray(cut);
      if (end >= 0) {
        this.#droppedLines++;
        return;
      }
    }
    const end = this.#buffer.subarray(0, this.#used).indexOf(NEWLINE);
    this.#buffer.copyWithin(0, end + 1, this.#used);
    this.#used -= end + 1;
    if (end >= 0) this.#droppedLines++;
  }

  #unwrittenLines(): number {
    let lines = 0;
    for (const chunk of [...this.#kept, this.#buffer.subarray(0, this.#used)]) {
      for (let at = chunk.indexOf(NEWLINE); at >= 0; at = chunk.indexOf(NEWLINE, at + 1)) lines++;
    }
    return lines;
  }

  // What happened to the path since the file was opened, if anything.
  #replacement(): "deleted" | "replaced" | undefined {
    const open = this.#file!.statSync();
    if (open.ino === null) return undefined; // no inodes to compare (Windows)
    try {
      const onDisk = Deno.statSync(this.filename);
      return onDisk.ino === open.ino && onDisk.dev === open.dev ? undefined : "replaced";
    } catch (error) {
      // NotADirectory: something other than a directory is where its directory was.
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        return "deleted";
      }
      throw error;
    }
  }
}

function countLines(text: string): number {
  let lines = 0;
  for (let at = text.indexOf("\n"); at >= 0; at = text.indexOf("\n", at + 1)) lines++;
  return lines;
}
