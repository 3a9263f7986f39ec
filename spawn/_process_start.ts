/**
 * spawn()'s processes: each function runs in `deno run` with the user's
 * module as its main module and `_process_bootstrap.ts` preloaded, logs
 * over the listener's socket, and reports how it ended in a file (see
 * `_process_control.ts`). spawn() reads that report once the process has
 * exited and everything it sent is written; a process that died without
 * one is explained by its exit status and the tail of its stderr.
 *
 * @module
 */
import { parseAddress } from "../common/_address.ts";
import {
  describeError,
  type ErrorDescription,
  InvalidOptionError,
  WorkerError,
} from "../errors.ts";
import { moduleLoadError } from "./_user_module.ts";
import { within } from "../common/_within.ts";
import {
  processDisconnected,
  type QueueListener,
  reserveProcessNames,
} from "../listener/queue_listener.ts";
import { join, type Outcome, outcomeOf, type RunningWorker } from "./_join.ts";
import { type Plan, runNames } from "./_plan.ts";
import {
  deserializeValue,
  type ProcessReport,
  type ProcessStart,
  readReport,
  serializeValue,
  SPAWNED_ENV,
} from "./_process_control.ts";
import { ChildInput, StderrTail } from "./_process_io.ts";
import { permissionFlags, type PermissionKind } from "./_process_options.ts";

const BOOTSTRAP = new URL("./_process_bootstrap.ts", import.meta.url);

// After an abort, how long a process has to return on its own before it
// gets SIGTERM (on which it writes what it logged and exits), and how long
// after that before SIGKILL.
const ABORT_GRACE_MS = 200;
const KILL_GRACE_MS = 1_000;
// How long stderr may stay open after the process exited (a process it
// started can hold it), and how long its socket may stay unread.
const STDERR_GRACE_MS = 1_000;
const LAST_BYTES_LIMIT_MS = 2_000;

/** What the processes of one run share. */
interface ProcessRun {
  readonly listener: QueueListener;
  readonly plan: Plan;
  readonly address: string;
  readonly token: string;
  /** A 0700 directory for the report files. */
  readonly directory: string;
  /** The args, serialized once. */
  readonly args: Uint8Array;
}

/** Runs the plan in processes that log into `listener` over its socket. */
export async function runProcesses<R>(listener: QueueListener, plan: Plan): Promise<R[]> {
  const args = serializeValue(plan.args);
  const { address, token } = await (listener.listening ?? listener.listen());
  checkReachable(address);
  const names = runNames(plan, (names) => reserveProcessNames(listener, names));
  try {
    const directory = await privateDirectory();
    try {
      const run: ProcessRun = { listener, plan, address, token, directory, args };
      return await join<R>(
        plan,
        names,
        (index, name, onFailure) => new RunningProcess(run, index, name, onFailure),
      );
    } finally {
      await Deno.remove(directory, { recursive: true }).catch(() => {});
    }
  } finally {
    // Releases the names of processes that never started (the others are detached).
    await Promise.all(names.map((name) => listener.detach(name)));
  }
}

// A process gets the address and token, nothing else: over TLS it would
// need the CA and a name the certificate holds, and its records would be
// lost. A listener listens once, so it is refused here, before anything
// starts.
function checkReachable(address: string) {
  if (parseAddress("address", address).transport !== "tls") return;
  throw new InvalidOptionError(
    "listener",
    address,
    "a listener that spawn()'s processes can reach: one that listens on a Unix socket " +
      '(listen()) or on TCP (listen({ transport: "tcp" })), or one that does not listen yet, ' +
      "which spawn() makes listen on a Unix socket; a listener listens once, and its TLS " +
      "address is for senders on other hosts, which bring the CA themselves",
  );
}

async function privateDirectory(): Promise<string> {
  const directory = await Deno.makeTempDir({ prefix: "workerlog-spawn-" });
  if (Deno.build.os !== "windows") await Deno.chmod(directory, 0o700);
  return directory;
}

/** One process of a run, from `deno run` to its outcome. */
class RunningProcess implements RunningWorker {
  readonly name: string;
  readonly finished: Promise<Outcome>;
  readonly #child: Deno.ChildProcess;
  readonly #input: ChildInput;
  readonly #stderr: StderrTail;
  #aborting = false;
  #exited = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    run: ProcessRun,
    index: number,
    name: string,
    onFailure: (index: number, error: WorkerError) => void,
  ) {
    this.name = name;
    const reportPath = `${run.directory}/${index}`;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: childArgs(run, reportPath),
      env: { [SPAWNED_ENV]: "1" },
      stdin: "piped",
      stdout: "inherit",
      stderr: "piped",
    }).spawn();
    this.#input = new ChildInput(this.#child.stdin);
    this.#input.send(startMessage(run, index, name, reportPath));
    this.#stderr = new StderrTail(this.#child.stderr);
    this.finished = this.#finish(run, index, reportPath, onFailure);
  }

  /** Tells the process to abort its signal; SIGTERM, then SIGKILL, if it does not end. */
  abort(reason: unknown): void {
    if (this.#aborting || this.#exited) return;
    this.#aborting = true;
    this.#input.send({ kind: "abort", reason: describeError(reason) });
    this.#timer = setTimeout(() => {
      this.#kill("SIGTERM");
      this.#timer = setTimeout(() => this.#kill("SIGKILL"), KILL_GRACE_MS);
    }, ABORT_GRACE_MS);
  }

  async #finish(
    run: ProcessRun,
    index: number,
    reportPath: string,
    onFailure: (index: number, error: WorkerError) => void,
  ): Promise<Outcome> {
    const status = await this.#child.status;
    this.#exited = true;
    clearTimeout(this.#timer);
    await this.#stderr.ended(STDERR_GRACE_MS);
    const report = await readReport(reportPath);
    // A process that reported "done" or "failed" waited until the listener
    // had written everything first; after any other end, its last bytes
    // may still be unread in the socket.
    if (report?.kind !== "done" && report?.kind !== "failed") {
      await lastBytesRead(run.listener, this.name);
    }
    const outcome = this.#outcome(run, report, status);
    if (outcome.kind === "failed") {
      onFailure(index, new WorkerError(index, this.name, outcome.error));
    }
    await run.listener.detach(this.name);
    await this.#input.close();
    return outcome;
  }

  #outcome(
    run: ProcessRun,
    report: ProcessReport | undefined,
    status: Deno.CommandStatus,
  ): Outcome {
    switch (report?.kind) {
      case "done":
        return { kind: "done", value: deserializeValue(report.value) };
      case "failed":
        return { kind: "failed", error: report.error, fromWorker: true };
      case "exited":
        return exitOutcome(run.listener, this.name, report);
    }
    if (this.#aborting) return { kind: "aborted" };
    const error = crashed(
      run.plan.module,
      this.name,
      this.#child.pid,
      report,
      status,
      this.#stderr,
    );
    return { kind: "failed", error, fromWorker: false };
  }

  #kill(signal: Deno.Signal) {
    try {
      this.#child.kill(signal);
    } catch {
      // It has exited meanwhile.
    }
  }
}

function childArgs(run: ProcessRun, reportPath: string): string[] {
  const { permissions, flags } = run.plan.processes!;
  const needed = needs(run.address, reportPath);
  // workerlog from a registry: its bootstrap is imported from there, which
  // Deno's default import list allows unless the user's own list replaces it.
  if (BOOTSTRAP.protocol.startsWith("http") && permissions.allow.has("import")) {
    needed.import = [BOOTSTRAP.host];
  }
  return [
    "run",
    "--no-prompt",
    ...flags,
    ...permissionFlags(permissions, needed),
    `--preload=${BOOTSTRAP.href}`,
    run.plan.module,
  ];
}

// What a process needs beyond the user's permissions: its socket, its
// report file, and the variable that tells the bootstrap spawn() started it.
function needs(address: string, reportPath: string): Partial<Record<PermissionKind, string[]>> {
  const socket = parseAddress("address", address);
  const env = [SPAWNED_ENV];
  if (socket.transport === "unix") {
    const path = socket.path;
    return { read: [path], write: [path, reportPath], net: [`unix:${path}`], env };
  }
  const host = socket.hostname.includes(":") ? `[${socket.hostname}]` : socket.hostname;
  return { write: [reportPath], net: [`${host}:${socket.port}`], env };
}

function startMessage(
  run: ProcessRun,
  index: number,
  name: string,
  reportPath: string,
): ProcessStart {
  const { plan, listener } = run;
  return {
    kind: "start",
    index,
    count: plan.count,
    name,
    args: run.args,
    logging: { ...plan.logging, level: plan.logging.level ?? listener.lowestLevel },
    preformat: plan.preformat,
    address: run.address,
    token: run.token,
    reportPath,
  };
}

// Waits (within a bound) until the listener has read the socket of a
// process that has exited to its end: everything it wrote before it died is
// then dispatched.
function lastBytesRead(listener: QueueListener, name: string): Promise<void> {
  return within(processDisconnected(listener, name), LAST_BYTES_LIMIT_MS, undefined);
}

// Deno.exit() ends a process at once: what it had logged but not yet sent
// is lost. Never silently: the outcome (or, for Deno.exit(0), a warning)
// says how many.
function exitOutcome(
  listener: QueueListener,
  name: string,
  report: Extract<ProcessReport, { kind: "exited" }>,
): Outcome {
  const outcome = outcomeOf({ kind: "exited", code: report.code }, name);
  // The last sender of that name is this process: an earlier process of
  // the same name (names come back once their process is gone) was
  // detached before it, and detached senders are listed first.
  const received = listener.stats().senders.findLast((sender) => sender.name === name)?.received;
  const lost = report.logged - (received ?? 0);
  if (lost <= 0) return outcome;
  const note = `${lost} of the ${report.logged} records it logged had not reached the listener ` +
    `and are lost (Deno.exit() does not wait for them: return from the function, or throw, ` +
    `to have every record written)`;
  if (outcome.kind !== "failed") {
    console.warn(`workerlog: ${name} called Deno.exit(0); ${note}.`);
    return outcome;
  }
  return { ...outcome, error: { ...outcome.error, message: `${outcome.error.message}; ${note}` } };
}

// A process that ended without a report: it could not load its module
// (no report at all), or it crashed or was killed after it had loaded.
function crashed(
  module: string,
  name: string,
  pid: number,
  report: ProcessReport | undefined,
  status: Deno.CommandStatus,
  stderr: StderrTail,
): ErrorDescription {
  const how = status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
  const tail = stderr.text();
  const said = tail === "" ? ", and wrote nothing to stderr" : `. Its stderr ended with:\n${tail}`;
  if (report === undefined) {
    const why = `its process (pid ${pid}) ${how} before the module had loaded${said}`;
    return { name: "Error", message: moduleLoadError(module, why).message }; // no stack of ours
  }
  return {
    name: "Error",
    message: `${name} (pid ${pid}) ${how} before its function returned${said}`,
  };
}
