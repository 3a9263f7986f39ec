// The baseline with the @std/log package loaded, as every worker module that
// logs loads it: answers the first message with when this worker's isolate
// began and when this module was evaluated (epoch ms).
/// <reference lib="deno.worker" />
import "@std/log";

const loaded = performance.timeOrigin + performance.now();
self.onmessage = () => self.postMessage({ origin: performance.timeOrigin, loaded });
