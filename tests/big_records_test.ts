// Records of 100 MB, and 600 MB logged in one task: each travels alone,
// never joined into a batch past V8's longest string (see sizes_test.ts).
import { logBigRecords } from "./_big_records.ts";

const MB = 1_000_000;

Deno.test("sizes: a record of 100 MB arrives whole, between small ones logged in the same task", async () => {
  await logBigRecords({ before: 10, count: 1, size: 100 * MB });
});

Deno.test("sizes: 600 MB logged in one task (6 records of 100 MB) all arrive whole", async () => {
  await logBigRecords({ before: 10, count: 6, size: 100 * MB });
});
