// The bare baseline of bench/startup_bench.ts: an empty module that answers
// the first message.
/// <reference lib="deno.worker" />
self.onmessage = () => self.postMessage(0);
