// One of the example's workers: plain @std/log calls, nothing else.
import * as log from "@std/log";
import type { WorkerContext } from "@workerlog/workerlog";

export interface ExampleArgs {
  records: number;
}

export default async function ({ index, args }: WorkerContext<ExampleArgs>): Promise<number> {
  const db = log.getLogger("db");
  let logged = 0;
  for (let i = 0; i < args.records; i++) {
    if (i % 10 === 0) {
      db.debug("query", { sql: "SELECT * FROM jobs WHERE id = $1", id: i });
    } else if (i % 25 === 0) {
      log.warn(`job ${i} is slow`, { ms: 250 + i });
    } else {
      log.info(`worker ${index} finished job ${i}`);
    }
    logged++;
    if (i % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  log.error("done, one error on purpose", new Error("example failure"));
  return logged + 1;
}
