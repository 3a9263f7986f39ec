// Shared by the sizes tests: a handler that checks big records as they
// arrive, and a run of size_worker.ts checked with it.
import { assertEquals } from "@std/assert";
import { BaseHandler, type LogRecord } from "@std/log";
import { spawn, type WorkerLogRecord } from "@workerlog/workerlog";
import { fixture } from "./_helpers.ts";
import { bigRecord, type SizeWorkerArgs } from "./fixtures/size_worker.ts";

/**
 * Checks every record as it arrives, without keeping it: small ones by
 * text, big ones by length, both ends and a sample of characters every
 * 64 KiB between (size_worker.ts's `<i|xxx…|i>`), and every record's seq.
 */
export class CheckingHandler extends BaseHandler {
  /** Per worker, what arrived in order: small texts, and "big i" for each whole big record. */
  readonly arrived = new Map<string, string[]>();
  readonly problems: string[] = [];
  readonly #size: number;

  constructor(size: number) {
    super("INFO");
    this.#size = size;
  }

  override handle(record: LogRecord): void {
    const { worker, seq, msg } = record as WorkerLogRecord;
    const arrived = this.arrived.get(worker) ?? [];
    this.arrived.set(worker, arrived);
    if (seq !== arrived.length) {
      this.problems.push(`${worker}: seq ${seq} arrived as record ${arrived.length}`);
    }
    arrived.push(msg.length < 1_000 ? msg : this.#checkBig(worker, msg));
  }

  override log(): void {}

  #checkBig(worker: string, msg: string): string {
    const i = Number(/^<(\d+)\|/.exec(msg)?.[1]);
    const expected = bigRecord(i, this.#size, "");
    const whole = msg.length === this.#size &&
      msg.startsWith(expected.slice(0, -`|${i}>`.length)) &&
      msg.endsWith(`|${i}>`) && everyNth(msg, 65_536, "x", expected.length);
    if (!whole) {
      this.problems.push(`${worker}: big record ${i} is not whole (${msg.length} characters)`);
    }
    return `big ${i}`;
  }
}

/** Whether `text` has `char` at every `step`-th position, ends excepted. */
function everyNth(text: string, step: number, char: string, ends: number): boolean {
  for (let at = ends; at < text.length - ends; at += step) {
    if (text[at] !== char) return false;
  }
  return true;
}

/** What size_worker.ts logs, as CheckingHandler records it. */
export function expectedArrivals({ before, count }: SizeWorkerArgs): string[] {
  return [
    ...Array.from({ length: before }, (_, i) => `before ${i}`),
    ...Array.from({ length: count }, (_, i) => `big ${i}`),
    "after",
  ];
}

export async function logBigRecords(args: SizeWorkerArgs) {
  const handler = new CheckingHandler(args.size);
  const results = await spawn(fixture("size_worker.ts"), { count: 1, args, handlers: [handler] });
  assertEquals(results, [args.count]);
  assertEquals(handler.problems, []);
  assertEquals(handler.arrived.get("worker-0"), expectedArrivals(args));
}
