/**
 * spawn()'s workers: a run of them (each a SpawnedWorker,
 * `_spawned_worker.ts`), their mailboxes for `SpawnRun.postMessage()`, and
 * the warning for application messages nobody asked for.
 *
 * @module
 */
import type { SenderHub } from "../listener/_sender_hub.ts";
import { join } from "./_join.ts";
import { type Plan, runNames } from "./_plan.ts";
import { SpawnedWorker } from "./_spawned_worker.ts";

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
      new SpawnedWorker({
        listener,
        plan,
        index,
        name,
        onFailure,
        onMessage,
        mailbox: mailboxes[index] ??= new Mailbox(),
      }),
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
