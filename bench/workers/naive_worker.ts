/// <reference lib="deno.worker" />
// The "naive" case: what a user writes by hand without workerlog. A handler
// posts every record to the main thread as its own message.
import { BaseHandler, Logger, type LogRecord } from "@std/log";
import { message, timedLoop } from "../_shape.ts";

class PostEachRecord extends BaseHandler {
  override handle(record: LogRecord) {
    self.postMessage({
      msg: record.msg,
      level: record.level,
      loggerName: record.loggerName,
      time: record.datetime.getTime(),
    });
  }
  log() {}
}

self.onmessage = (event: MessageEvent<{ records: number; name: string }>) => {
  const logger = new Logger("default", "INFO", { handlers: [new PostEachRecord("INFO")] });
  const medianUs = timedLoop(0, event.data.records, (i) => logger.info(message(i)));
  self.postMessage({ done: true, medianUs });
};
