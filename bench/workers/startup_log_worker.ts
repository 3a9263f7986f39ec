// The spawned worker of bench/startup_bench.ts: logs one record, whose arg
// says when this worker's isolate began (performance.timeOrigin) and when
// this module was evaluated, in epoch ms; then returns.
import * as log from "@std/log";

const loaded = performance.timeOrigin + performance.now();

export default function (): void {
  log.info("up", { origin: performance.timeOrigin, loaded });
}
