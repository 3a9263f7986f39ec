/**
 * One worker of a spawn() run: started on `_bootstrap.ts` with a connection
 * and a control port, and its ending read from the control port, the
 * Worker's error events and the application's messages on its own channel.
 *
 * @module
 */
import type { QueueConnection } from "../common/_wire.ts";
import { describeError, type ErrorDescription, WorkerError } from "../errors.ts";
import type { SenderHub } from "../listener/_sender_hub.ts";
import { type FromWorker, START_KEY, type StartMessage, type ToWorker } from "./_control.ts";
import { type Outcome, outcomeOf, type RunningWorker } from "./_join.ts";
import type { Plan } from "./_plan.ts";
import type { Mailbox } from "./_worker_start.ts";

const BOOTSTRAP = new URL("./_bootstrap.ts", import.meta.url);

// After an abort, how long workers get to return on their own before they
// are terminated. A worker that heeds its signal returns within
// milliseconds, but on a busy machine its thread may not run for a while,
// and terminating it in the middle of a task loses the batch it is
// building. Only a worker that ignores its signal waits the grace out.
const ABORT_GRACE_MS = 500;

// How long an ending waits for application messages that do not come.
const APP_MESSAGES_STALL_MS = 5_000;

/** What starting one worker of a run needs. */
export interface SpawnedWorkerOptions {
  listener: SenderHub;
  plan: Plan;
  index: number;
  name: string;
  /** Called as soon as the worker is known to have failed. */
  onFailure: (index: number, error: WorkerError) => void;
  /** Where the application's messages on the Worker's own channel go. */
  onMessage: (data: unknown, index: number) => void;
  mailbox: Mailbox;
}

/** A started worker; `finished` settles once it has ended and what it sent is written. */
export class SpawnedWorker implements RunningWorker {
  readonly name: string;
  readonly finished: Promise<Outcome>;
  readonly #index: number;
  readonly #worker: Worker;
  readonly #control = new MessageChannel();
  readonly #ended = Promise.withResolvers<void>();
  readonly #onFailure: SpawnedWorkerOptions["onFailure"];
  #outcome: Outcome | undefined;
  // The worker's own channel and the control port are not ordered with each
  // other: an ending waits until every application message the worker says
  // it posted before it has arrived (or until they stall).
  #appMessages = 0;
  #ending: { outcome: Outcome; appMessages: number } | undefined;
  #stall: ReturnType<typeof setTimeout> | undefined;
  #abortGrace: ReturnType<typeof setTimeout> | undefined;

  constructor(options: SpawnedWorkerOptions) {
    const { listener, index, name, mailbox } = options;
    this.name = name;
    this.#index = index;
    this.#onFailure = options.onFailure;
    // A WriterListener's connection comes from its writer: the worker loads
    // its modules meanwhile, and gets the start message once it has come.
    const connecting = listener.connect({ name, index });
    try {
      this.#worker = new Worker(BOOTSTRAP, { type: "module", name });
    } catch (error) {
      listener.detach(name);
      throw error;
    }
    this.#listen(mailbox, options.onMessage);
    if (connecting instanceof Promise) {
      connecting.then(
        (connection) => this.#sendStart(options.plan, connection),
        (error) => this.#settle(failedHere(describeError(error))),
      );
    } else {
      this.#sendStart(options.plan, connecting);
    }
    this.finished = this.#ended.promise.then(() => this.#cleanUp(listener, mailbox));
  }

  /** Aborts the worker's signal; terminates it if it has not ended within the grace. */
  abort(reason: unknown): void {
    if (this.#outcome !== undefined || this.#abortGrace !== undefined) return;
    const message: ToWorker = { kind: "abort", reason: describeError(reason) };
    this.#control.port1.postMessage(message);
    this.#abortGrace = setTimeout(() => this.#settle({ kind: "aborted" }), ABORT_GRACE_MS);
  }

  #listen(mailbox: Mailbox, onMessage: SpawnedWorkerOptions["onMessage"]) {
    const worker = this.#worker;
    this.#control.port1.onmessage = (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      if (message.kind === "ready") return mailbox.open(worker);
      this.#onEnding(outcomeOf(message, this.name), message.appMessages);
    };
    worker.onmessage = (event) => {
      this.#appMessages++;
      onMessage(event.data, this.#index);
      this.#settleEnding();
    };
    worker.onerror = (event) => {
      event.preventDefault();
      const stack = `    at ${event.filename}:${event.lineno}`;
      this.#settle(failedHere({ name: "Error", message: event.message, stack }));
    };
    worker.onmessageerror = () =>
      this.#settle(failedHere({
        name: "DataCloneError",
        message: "a message from the worker could not be read",
      }));
  }

  #sendStart(plan: Plan, connection: QueueConnection) {
    const start: StartMessage = {
      module: plan.module,
      index: this.#index,
      count: plan.count,
      name: this.name,
      args: plan.args,
      connection,
      logging: plan.logging,
      preformat: plan.preformat,
      control: this.#control.port2,
    };
    this.#worker.postMessage({ [START_KEY]: start }, [
      connection.port as MessagePort,
      this.#control.port2,
    ]);
  }

  // The worker's own report of how it ended.
  #onEnding(outcome: Outcome, appMessages: number) {
    // Already ended (an error event came first): this report only adds the stack.
    if (this.#outcome !== undefined) return this.#settle(outcome);
    this.#ending = { outcome, appMessages };
    this.#stall = setTimeout(() => this.#settle(outcome), APP_MESSAGES_STALL_MS);
    this.#settleEnding();
  }

  #settleEnding() {
    const ending = this.#ending;
    if (ending === undefined || this.#appMessages < ending.appMessages) return;
    clearTimeout(this.#stall);
    this.#settle(ending.outcome);
  }

  #settle(next: Outcome) {
    // The worker's own report of a failure has its stack: it may replace an
    // error event's summary that arrived first, but nothing else changes.
    const outcome = this.#outcome;
    const upgrade = outcome?.kind === "failed" && !outcome.fromWorker &&
      next.kind === "failed" && next.fromWorker;
    if (outcome !== undefined && !upgrade) return;
    this.#outcome = next;
    if (next.kind === "failed" && !upgrade) {
      this.#onFailure(this.#index, new WorkerError(this.#index, this.name, next.error));
    }
    this.#ended.resolve();
  }

  async #cleanUp(listener: SenderHub, mailbox: Mailbox): Promise<Outcome> {
    clearTimeout(this.#stall);
    clearTimeout(this.#abortGrace);
    mailbox.close();
    this.#worker.terminate();
    await listener.detach(this.name);
    this.#control.port1.close();
    // Read only now: while the records were written, the worker's own report
    // of a failure, with its stack, has had time to replace an error event's.
    return this.#outcome!;
  }
}

// A failure seen from the main thread (an error event, a message that
// could not be read, a connection that failed), not reported by the worker.
function failedHere(error: ErrorDescription): Outcome {
  return { kind: "failed", error, fromWorker: false };
}
