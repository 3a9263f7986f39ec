/**
 * What every process started by spawn() preloads (`deno run --preload`),
 * before the user's module, which is the process's main module: it reads the
 * start message from stdin, routes the @std/log package to the listener's
 * socket, and once the module has loaded calls its default export, flushes,
 * reports how it ended (see `_process_control.ts`) and exits.
 *
 * The user's module is the main module, not a dynamic import, so that the
 * process needs no read access to the module's files. spawn.ts imports this
 * module too, so that it is part of the program's module graph (`deno
 * cache`); it does something only in a process spawn() started, which it
 * tells by the variable SPAWNED_ENV (the one permission spawn() grants
 * beyond the socket and the report file).
 *
 * @module
 */
import type { FormatterFunction } from "@std/log";
import { within } from "../common/_within.ts";
import { describeError, type ErrorDescription } from "../errors.ts";
import { checkDefaultExport, moduleLoadError, unsendableResult } from "./_user_module.ts";
import { textFormatter } from "../formatters/text_formatter.ts";
import { type ProcessHandler, watchUnreachable } from "../sender/process_handler.ts";
import { holdUntilFormatter } from "../sender/queue_handler.ts";
import { setupProcessLogging } from "../sender/setup_process_logging.ts";
import { reportEndings, type WorkerEnding } from "../sender/_exit_hooks.ts";
import { workerScope } from "../sender/_worker_scope.ts";
import {
  deserializeValue,
  MessageReader,
  type ProcessReport,
  type ProcessStart,
  serializeValue,
  SPAWNED_ENV,
  writeReport,
} from "./_process_control.ts";
import type { WorkerContext } from "./spawn.ts";

// How long the process waits for the listener to acknowledge its last
// records before it exits anyway: at the end, and on a signal (less than the
// listener's own 500 ms grace, so that both drain).
const FLUSH_TIMEOUT_MS = 30_000;
const SIGNAL_FLUSH_TIMEOUT_MS = 400;
// After spawn()'s process is gone (stdin closed), how long the function has
// to return on its own before this process exits.
const ORPHAN_GRACE_MS = 1_000;

const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;

// Whether spawn() started this process: only then may it read stdin.
function startedBySpawn(): boolean {
  try {
    const permission = Deno.permissions.querySync({ name: "env", variable: SPAWNED_ENV });
    if (permission.state !== "granted" || Deno.env.get(SPAWNED_ENV) !== "1") return false;
    Deno.env.delete(SPAWNED_ENV);
    return true;
  } catch {
    return false;
  }
}

// The start message, read synchronously: logging must be routed before the
// main module's own top-level code logs.
function readStart(input: MessageReader): ProcessStart {
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const message = input.next();
    if (message?.kind === "start") return message;
    if (message !== undefined) throw new Error(`spawn() sent ${message.kind} before start`);
    const read = Deno.stdin.readSync(buffer);
    if (read === null) throw new Error("stdin ended before spawn()'s start message arrived");
    input.push(buffer.subarray(0, read));
  }
}

/** One process's run: set-up, the function, and every way it can end. */
class SpawnedProcess {
  readonly #start: ProcessStart;
  readonly #input: MessageReader;
  readonly #module = Deno.mainModule;
  readonly #aborter = new AbortController();
  readonly #orphaned = Promise.withResolvers<void>();
  // Nothing listens at the address anymore: spawn()'s listener has stopped,
  // and never listens there again.
  readonly #unreachable = Promise.withResolvers<void>();
  #handler: ProcessHandler | undefined;
  #releaseHeld: ((formatter: FormatterFunction) => void) | undefined;
  #loaded = false;
  #ending = false;

  constructor(start: ProcessStart, input: MessageReader) {
    this.#start = start;
    this.#input = input;
  }

  /** Routes logging now; runs the function once the main module has loaded. */
  begin() {
    try {
      this.#handler = setupProcessLogging({
        ...this.#start.logging,
        address: this.#start.address,
        token: this.#start.token,
        name: this.#start.name,
        ...(this.#start.preformat ? { formatter: textFormatter } : {}),
      });
    } catch (error) {
      writeReport(this.#start.reportPath, { kind: "failed", error: describeError(error) });
      Deno.exit(1);
    }
    // The module's own formatter is known only once it has loaded; records
    // logged while it loads wait for it, so that one formatter formats all.
    if (this.#start.preformat) this.#releaseHeld = holdUntilFormatter(this.#handler);
    watchUnreachable(this.#handler, () => this.#unreachable.resolve());
    reportEndings((ending) => this.#onEnding(ending));
    // Anything pending here would hold the main module back (Deno runs a
    // preload's event loop dry first): stdin and signals wait for "load".
    addEventListener("load", () => this.#run(), { once: true });
  }

  async #run() {
    writeReport(this.#start.reportPath, { kind: "loaded" });
    this.#listen();
    this.#onSignals();
    let value: unknown;
    try {
      const module = await this.#importModule();
      this.#releaseHeld?.(
        typeof module.formatter === "function" ? module.formatter : textFormatter,
      );
      value = await module.default(this.#context());
    } catch (error) {
      return this.#end({ kind: "failed", error: this.#describe(error) }, 1);
    }
    let bytes: Uint8Array;
    try {
      bytes = serializeValue(value);
    } catch (error) {
      const unsendable = unsendableResult(this.#module, "spawn()", error);
      return this.#end({ kind: "failed", error: describeError(unsendable) }, 1);
    }
    await this.#end({ kind: "done", value: bytes }, 0);
  }

  // The main module has been evaluated by now: this import only hands over
  // its exports (or its evaluation error), and needs no read permission.
  async #importModule() {
    const module = await import(this.#module);
    this.#loaded = true;
    checkDefaultExport(module, this.#module);
    return module;
  }

  #context(): WorkerContext {
    return {
      index: this.#start.index,
      count: this.#start.count,
      name: this.#start.name,
      args: deserializeValue(this.#start.args),
      signal: this.#aborter.signal,
    };
  }

  // A failure before the function ran is the module's: said as worker mode
  // says it. A missing permission says where to grant it.
  #describe(error: unknown): ErrorDescription {
    const description = describeError(error);
    if (error instanceof Deno.errors.NotCapable) {
      description.message += ` (a process spawn() starts has only the permissions in its ` +
        `processes.permissions option: add the flag there)`;
    }
    if (this.#loaded) return description;
    return describeError(moduleLoadError(this.#module, description.message, error));
  }

  // Ways the process can end or fail away from #run. Uncaught errors and
  // unhandled rejections that the module's own listeners did not handle
  // are kept from ending it until its records (theirs included) are
  // written; Deno.exit() cannot be held back, so its report says how many
  // records had been logged, and spawn() how many never arrived.
  #onEnding(ending: WorkerEnding) {
    if (ending.kind === "error") {
      ending.event.preventDefault();
      this.#end({ kind: "failed", error: this.#describe(ending.error) }, 1);
    } else if (ending.kind === "exit" && !this.#ending) {
      this.#ending = true;
      const stats = this.#handler!.stats();
      writeReport(this.#start.reportPath, {
        kind: "exited",
        code: ending.code,
        logged: stats.acknowledged + stats.unacknowledgedRecords,
      });
    }
  }

  // Reads abort messages; the end of stdin means spawn()'s process is gone.
  async #listen() {
    const buffer = new Uint8Array(4096);
    try {
      for (;;) {
        for (let message = this.#input.next(); message; message = this.#input.next()) {
          if (message.kind === "abort") this.#abort(message.reason);
        }
        const read = await Deno.stdin.read(buffer);
        if (read === null) break;
        this.#input.push(buffer.subarray(0, read));
      }
    } catch {
      // A broken pipe ends it the same way.
    }
    this.#orphaned.resolve();
    this.#abort({ name: "AbortError", message: "spawn()'s process has ended" });
    const message = `${this.#start.name} was left running by spawn()'s process, which has ended`;
    setTimeout(
      () => this.#end({ kind: "failed", error: { name: "Error", message } }, 1),
      ORPHAN_GRACE_MS,
    );
  }

  #abort(reason: ErrorDescription) {
    this.#aborter.abort(new DOMException(reason.message, "AbortError"));
  }

  // SIGTERM (spawn's last word before SIGKILL) and SIGINT: write what was
  // logged, then end as the signal would have.
  #onSignals() {
    for (const [signal, number] of Object.entries(SIGNALS)) {
      try {
        Deno.addSignalListener(signal as Deno.Signal, () => {
          const message = `${this.#start.name} received ${signal}`;
          this.#end({ kind: "failed", error: { name: "Error", message } }, 128 + number);
        });
      } catch {
        // A signal this platform does not have.
      }
    }
  }

  // Writes what was logged, then the report, and exits. A process whose
  // last records were not acknowledged has not finished: "done" becomes a
  // failure that says how many may be lost, and a failure says it too.
  async #end(report: ProcessReport, code: number) {
    if (this.#ending) return;
    this.#ending = true;
    this.#releaseHeld?.(textFormatter);
    const unwritten = await this.#flush(code > 128 ? SIGNAL_FLUSH_TIMEOUT_MS : FLUSH_TIMEOUT_MS);
    if (unwritten !== undefined && report.kind === "done") {
      report = { kind: "failed", error: { name: "Error", message: unwritten } };
      code = 1;
    } else if (unwritten !== undefined && report.kind === "failed") {
      report = {
        ...report,
        error: { ...report.error, message: `${report.error.message}; ${unwritten}` },
      };
    }
    writeReport(this.#start.reportPath, report);
    Deno.exit(code);
  }

  // Waits until the listener has written everything logged, within a bound:
  // undefined once it has, or else what was not acknowledged, and why.
  async #flush(timeoutMs: number): Promise<string | undefined> {
    const handler = this.#handler!;
    const why = await within(
      Promise.race([
        handler.flush().then(() => undefined),
        this.#orphaned.promise.then(() => "spawn()'s process has ended"),
        this.#unreachable.promise.then(() => `nothing listens at ${this.#start.address} anymore`),
      ]),
      timeoutMs,
      `not within ${timeoutMs / 1000} s`,
    );
    const { unacknowledgedRecords, refusal } = handler.stats();
    // flush() settles a microtask late even with nothing to wait for, so a
    // listener gone earlier can win the race: then nothing is lost.
    if (why === undefined || unacknowledgedRecords === 0) return undefined;
    const refused = refusal === undefined ? "" : `; the listener refused it: ${refusal}`;
    return `${this.#start.name} ended before the listener had acknowledged its last ` +
      `${unacknowledgedRecords} records (${why}${refused}); they may be lost`;
  }
}

// Last, once the class above is defined.
if (workerScope() === undefined && startedBySpawn()) {
  const input = new MessageReader();
  new SpawnedProcess(readStart(input), input).begin();
}
