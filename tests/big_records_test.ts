// Records of 100 MB, 600 MB of them logged in one task: each travels alone,
// never joined into a batch past V8's longest string (see sizes_test.ts).
// One run covers both: a single 100 MB record arriving whole is what each
// of the six is checked for.
import { logBigRecords } from "./_big_records.ts";

const MB = 1_000_000;

Deno.test("sizes: 600 MB logged in one task, as 6 records of 100 MB between small ones: each arrives whole, in order", async () => {
  await logBigRecords({ before: 10, count: 6, size: 100 * MB });
});
