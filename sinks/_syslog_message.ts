// RFC 5424 rendering: one record -> one syslog message (a string; its
// UTF-8 bytes are what goes on the wire).
import type { LogRecord } from "@std/log";
import { WorkerLogRecord } from "../common/worker_log_record.ts";
import { argToJson, isoTime, timeOf, workerOf } from "../formatters/_fields.ts";

/** The facility names of RFC 5424 section 6.2.1, in code order (kern = 0 ... local7 = 23). */
export const FACILITIES = [
  "kern",
  "user",
  "mail",
  "daemon",
  "auth",
  "syslog",
  "lpr",
  "news",
  "uucp",
  "cron",
  "authpriv",
  "ftp",
  "ntp",
  "audit",
  "alert",
  "clock",
  "local0",
  "local1",
  "local2",
  "local3",
  "local4",
  "local5",
  "local6",
  "local7",
] as const;

/**
 * The RFC 5424 severity of an @std/log level: CRITICAL 2 (critical),
 * ERROR 3 (error), WARN 4 (warning), INFO 6 (informational), DEBUG and
 * NOTSET 7 (debug). Levels between take the severity of the level below.
 */
export function severityOf(level: number): number {
  if (level >= 50) return 2;
  if (level >= 40) return 3;
  if (level >= 30) return 4;
  if (level >= 20) return 6;
  return 7;
}

/** The RFC 5424 NILVALUE. */
const NIL = "-";
const NOT_PRINTABLE_ASCII = /[^\x21-\x7e]/g;

/**
 * A header field (HOSTNAME, APP-NAME, PROCID, MSGID): printable US-ASCII
 * only (anything else becomes "_"), at most `max` characters, "-" when
 * empty.
 */
export function headerField(text: string, max: number): string {
  const clean = text.replace(NOT_PRINTABLE_ASCII, "_").slice(0, max);
  return clean === "" ? NIL : clean;
}

/** Whether `text` is already a valid header field of at most `max` characters. */
export function isHeaderField(text: string, max: number): boolean {
  return text.length > 0 && text.length <= max && !/[^\x21-\x7e]/.test(text);
}

const SD_SPECIAL = /["\\\]]/;
const SD_SPECIAL_GLOBAL = /["\\\]]/g;

/** A PARAM-VALUE: `"`, `\` and `]` escaped with a backslash (RFC 5424 section 6.3.3). */
export function sdValue(text: string): string {
  return SD_SPECIAL.test(text) ? text.replace(SD_SPECIAL_GLOBAL, "\\$&") : text;
}

/** What every message of one handler shares. */
export interface MessageShape {
  /** 0 ... 23. */
  facility: number;
  /** HOSTNAME, APP-NAME and PROCID, already checked or cleaned. */
  hostname: string;
  appName: string;
  procId: string;
  /** The SD-ID of the one element, e.g. "workerlog@32473". */
  sdId: string;
  /** Whether MSG starts with the UTF-8 BOM. */
  bom: boolean;
  /** MSG from the record; when absent, msg and then each arg as JSON. */
  body?: (record: LogRecord) => string;
}

/**
 * Renders records as RFC 5424 messages:
 *
 *     <14>1 2026-11-24T08:49:55.123Z host app 4242 db [workerlog@32473 worker="worker-2" seq="41" logger="db"] query {"job":41}
 *
 * MSGID is the logger name (cleaned to printable ASCII, 32 at most); the
 * structured data carries worker, seq (records that came through a
 * listener) and the logger name as it is. MSG is kept raw: line breaks and
 * any Unicode stay, since octet counting frames the message whole.
 */
export class SyslogMessageRenderer {
  readonly #priBase: number;
  readonly #middle: string;
  readonly #sdOpen: string;
  readonly #bom: string;
  readonly #body: ((record: LogRecord) => string) | undefined;
  // Logger and worker names hardly change from one record to the next.
  #logger = "";
  #loggerFields = ` ${NIL} `;
  #worker = "";
  #workerParam = "";

  constructor(shape: MessageShape) {
    this.#priBase = shape.facility * 8;
    this.#middle = ` ${shape.hostname} ${shape.appName} ${shape.procId} `;
    this.#sdOpen = `[${shape.sdId} worker="`;
    this.#bom = shape.bom ? "\ufeff" : "";
    this.#body = shape.body;
  }

  /** The message for one record. */
  render(record: LogRecord): string {
    const loggerName = record.loggerName;
    if (loggerName !== this.#logger) {
      this.#logger = loggerName;
      this.#loggerFields = `${headerField(loggerName, 32)} `;
    }
    const worker = workerOf(record);
    if (worker !== this.#worker) {
      this.#worker = worker;
      this.#workerParam = sdValue(worker);
    }
    const seq = record instanceof WorkerLogRecord ? `" seq="${record.seq}` : "";
    return `<${this.#priBase + severityOf(record.level)}>1 ${
      timestampOf(record)
    }${this.#middle}${this.#loggerFields}${this.#sdOpen}${this.#workerParam}${seq}" logger="${
      sdValue(loggerName)
    }"] ${this.#bom}${this.body(record)}`;
  }

  /** The MSG of a record: the formatter's text, or msg and then each arg as JSON. */
  body(record: LogRecord): string {
    return this.#body === undefined ? bodyOf(record) : this.#body(record);
  }

  /**
   * A finished line that comes without its record (`preformat`), at the
   * severity of `level`: no MSGID and no structured data, the line as MSG.
   */
  line(level: number, text: string, time: number): string {
    return `<${this.#priBase + severityOf(level)}>1 ${
      isoTime(time)
    }${this.#middle}${NIL} ${NIL} ${this.#bom}${text}`;
  }

  /** A message of the handler's own (a drop notice): WARN, logger "workerlog", worker "main". */
  notice(text: string, time: number): string {
    return `<${this.#priBase + severityOf(30)}>1 ${
      isoTime(time)
    }${this.#middle}workerlog ${this.#sdOpen}main" logger="workerlog"] ${this.#bom}${text}`;
  }
}

function timestampOf(record: LogRecord): string {
  const time = timeOf(record);
  return Number.isFinite(time) ? isoTime(time) : NIL;
}

/** msg, then each arg as JSON, as textFormatter writes them (without escaping line breaks). */
function bodyOf(record: LogRecord): string {
  let body = record.msg;
  for (const arg of record.args) body += ` ${argToJson(arg)}`;
  return body;
}

/**
 * The number of bytes `text` takes in UTF-8, as TextEncoder writes it: a
 * lone surrogate becomes U+FFFD, 3 bytes. ASCII, the common case, is
 * answered by one native regex test.
 */
export function utf8Length(text: string): number {
  if (!NON_ASCII.test(text)) return text.length;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

const NON_ASCII = /[\u0080-\uffff]/;

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes, at a character boundary
 * (TextEncoder.encodeInto never writes part of a character).
 */
export function truncateUtf8(text: string, maxBytes: number, scratch: Uint8Array): string {
  const { read } = new TextEncoder().encodeInto(text, scratch.subarray(0, maxBytes));
  return text.slice(0, read);
}
