/**
 * spawn()'s workers: starting one on `_bootstrap.ts` with a connection and
 * a control port, its mailbox for `SpawnRun.postMessage()`, and how its
 * ending is read from the control port, the Worker's error events and the
 * application's messages on its own channel.
 *
 * @module
 */
import type { QueueConnection } from "../common/_wire.ts";
import { describeError, WorkerError } from "../errors.ts";
import type { SenderHub } from "../listener/_sender_hub.ts";
import { type FromWorker, START_KEY, type StartMessage, type ToWorker } from "./_control.ts";
import { join, type Outcome, outcomeOf, type RunningWorker } from "./_join.ts";
import { type Plan, runNames } from "./_plan.ts";

const BOOTSTRAP = new URL("./_bootstrap.ts", import.meta.url);

// After an abort, how long workers get to return on their own before they
// are terminated. A worker that heeds its signal returns within
// milliseconds, but on a busy machine its thread may not run for a while,
// and terminating it in the middle of a task loses the batch it is
// building. Only a worker that ignores its signal waits the grace out.
const ABORT_GRACE_MS = 500;

/** Runs the plan in workers. */
export function runWorkers<R>(
  listener: SenderHub,
  plan: Plan,
  mailboxes: Mailbox[],
): Promise<R[]> {
  const names = runNames(plan, (names) => names.every((name) => listener.isNameFree(name)));
  const onMessage = plan.onMessage ?? warnOnce(names[0]);
  return join<R>(
    plan,
    names,
    (index, name, onFailure) =>
      startWorker(
        listener,
        plan,
        index,
        name,
        onFailure,
        onMessage,
        mailboxes[index] ??= new Mailbox(),
      ),
  );
}

/**
 * Messages from the main thread to one worker's global scope, held until
 * its module has loaded (so its `onmessage` is set) and dropped once it has
 * ended.
 */
export class Mailbox {
  #worker: Worker | undefined;
  #held: [unknown, Transferable[]][] | undefined = [];

  post(message: unknown, transfer: Transferable[]) {
    if (this.#held) this.#held.push([message, transfer]);
    else this.#worker?.postMessage(message, transfer);
  }

  open(worker: Worker) {
    this.#worker = worker;
    for (const [message, transfer] of this.#held ?? []) worker.postMessage(message, transfer);
    this.#held = undefined;
  }

  close() {
    this.#worker = undefined;
    this.#held = undefined;
  }
}

function warnOnce(firstName: string): (data: unknown, index: number) => void {
  let warned = false;
  return (_data, index) => {
    if (warned) return;
    warned = true;
    console.warn(
      `workerlog: a spawned worker (index ${index}, of the run starting with ${firstName}) ` +
        `posted a message with self.postMessage(), and spawn() has no onMessage option; it was ` +
        `ignored (and so will be the rest of this run's). Pass onMessage: (data, index) => ... ` +
        `to receive them.`,
    );
  };
}

// How long an ending waits for application messages that do not come.
const APP_MESSAGES_STALL_MS = 5_000;

function startWorker(
  listener: SenderHub,
  plan: Plan,
  index: number,
  name: string,
  onFailure: (index: number, error: WorkerError) => void,
  onMessage: (data: unknown, index: number) => void,
  mailbox: Mailbox,
): RunningWorker {
  // A WriterListener's connection comes from its writer: the worker loads
  // its modules meanwhile, and gets the start message once it has come.
  const connecting = listener.connect({ name, index });
  let worker: Worker;
  try {
    worker = new Worker(BOOTSTRAP, { type: "module", name });
  } catch (error) {
    listener.detach(name);
    throw error;
  }
  const ended = Promise.withResolvers<void>();
  let outcome: Outcome | undefined;

  const settle = (next: Outcome) => {
    // The worker's own report of a failure has its stack: it may replace an
    // error event's summary that arrived first, but nothing else changes.
    const upgrade = outcome?.kind === "failed" && !outcome.fromWorker &&
      next.kind === "failed" && next.fromWorker;
    if (outcome !== undefined && !upgrade) return;
    outcome = next;
    if (next.kind === "failed" && !upgrade) {
      onFailure(index, new WorkerError(index, name, next.error));
    }
    ended.resolve();
  };

  // The worker's own channel and the control port are not ordered with each
  // other: an ending waits until every application message the worker says
  // it posted before it has arrived (or until they stall).
  let appMessages = 0;
  let ending: { outcome: Outcome; appMessages: number } | undefined;
  let stall: ReturnType<typeof setTimeout> | undefined;
  const settleEnding = () => {
    if (ending === undefined || appMessages < ending.appMessages) return;
    clearTimeout(stall);
    settle(ending.outcome);
  };
  const control = new MessageChannel();
  control.port1.onmessage = (event: MessageEvent<FromWorker>) => {
    const message = event.data;
    if (message.kind === "ready") return mailbox.open(worker);
    // Already ended (an error event came first): this report only adds the stack.
    if (outcome !== undefined) return settle(outcomeOf(message, name));
    ending = { outcome: outcomeOf(message, name), appMessages: message.appMessages };
    stall = setTimeout(() => settle(ending!.outcome), APP_MESSAGES_STALL_MS);
    settleEnding();
  };
  worker.onmessage = (event) => {
    appMessages++;
    onMessage(event.data, index);
    settleEnding();
  };
  worker.onerror = (event) => {
    event.preventDefault();
    settle({
      kind: "failed",
      error: {
        name: "Error",
        message: event.message,
        stack: `    at ${event.filename}:${event.lineno}`,
      },
      fromWorker: false,
    });
  };
  worker.onmessageerror = () =>
    settle({
      kind: "failed",
      error: { name: "DataCloneError", message: "a message from the worker could not be read" },
      fromWorker: false,
    });

  const sendStart = (connection: QueueConnection) => {
    const start: StartMessage = {
      module: plan.module,
      index,
      count: plan.count,
      name,
      args: plan.args,
      connection,
      logging: plan.logging,
      preformat: plan.preformat,
      control: control.port2,
    };
    worker.postMessage({ [START_KEY]: start }, [connection.port as MessagePort, control.port2]);
  };
  if (connecting instanceof Promise) {
    connecting.then(
      sendStart,
      (error) => settle({ kind: "failed", error: describeError(error), fromWorker: false }),
    );
  } else {
    sendStart(connecting);
  }

  const finished = ended.promise.then(async () => {
    clearTimeout(stall);
    mailbox.close();
    worker.terminate();
    await listener.detach(name);
    control.port1.close();
    // Read only now: while the records were written, the worker's own report
    // of a failure, with its stack, has had time to replace an error event's.
    return outcome!;
  });

  return {
    name,
    finished,
    abort(reason) {
      if (outcome !== undefined) return;
      const message: ToWorker = { kind: "abort", reason: describeError(reason) };
      control.port1.postMessage(message);
      setTimeout(() => settle({ kind: "aborted" }), ABORT_GRACE_MS);
    },
  };
}
