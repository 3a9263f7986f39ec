// A real rsyslogd for a test: started as a child of the test, in its own
// temporary directory, on loopback ports of its own, stopped by its PID.
// It writes every message it receives as rsyslog's %jsonmesg% (one JSON
// object per line) to `output`.
import { assert } from "@std/assert";
import { AppendedLines, freePort } from "./_helpers.ts";

/** The TLS files imtcp serves with (gtls driver, anonymous clients). */
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** What to start. */
export interface RsyslogOptions {
  /** The directory for config, work files, output and logs (the caller removes it). */
  dir: string;
  /** Start imtcp (octet counting and LF framing). A number: on that port; true: on a free one. */
  tcp?: boolean | number;
  /** Start imrelp. A number: on that port; true: on a free one. */
  relp?: boolean | number;
  /** Serve imtcp over TLS with these files. */
  tls?: TlsFiles;
  /**
   * "direct" (default): each message is written to the file before the
   * input takes the next (so a RELP ack means "in the file"); "memory":
   * rsyslog's default in-memory main queue, for throughput.
   */
  queue?: "direct" | "memory";
  /** "json" (default): %jsonmesg% per line; "msg": only %msg% per line (cheaper, for benchmarks). */
  format?: "json" | "msg";
}

/** One line of rsyslog's %jsonmesg%, the fields the tests read. */
export interface Received {
  msg: string;
  rawmsg: string;
  timereported: string;
  hostname: string;
  syslogfacility: string;
  syslogseverity: string;
  pri: string;
  "app-name": string;
  procid: string;
  msgid: string;
  "structured-data": string;
  inputname: string;
}

/** A running rsyslogd; `await using` stops it. */
export class Rsyslog implements AsyncDisposable {
  readonly options: RsyslogOptions;
  /** The file it writes received messages to, as JSON lines. */
  readonly output: string;
  #child: Deno.ChildProcess | undefined;
  #stderr = "";
  #tcpPort: number | undefined;
  #relpPort: number | undefined;
  #starts = 0;

  private constructor(options: RsyslogOptions) {
    this.options = options;
    this.output = `${options.dir}/received.jsonl`;
    this.#appended = new AppendedLines(this.output);
  }

  /** Starts rsyslogd and waits until its inputs accept connections. */
  static async start(options: RsyslogOptions): Promise<Rsyslog> {
    const rsyslog = new Rsyslog(options);
    if (typeof options.tcp === "number") rsyslog.#tcpPort = options.tcp;
    if (typeof options.relp === "number") rsyslog.#relpPort = options.relp;
    else if (options.relp === true) rsyslog.#relpPort = freePort();
    await rsyslog.#launch();
    return rsyslog;
  }

  /** imtcp's port. */
  get tcpPort(): number {
    assert(this.#tcpPort !== undefined, "rsyslog was started without tcp");
    return this.#tcpPort;
  }

  /** imrelp's port. */
  get relpPort(): number {
    assert(this.#relpPort !== undefined, "rsyslog was started without relp");
    return this.#relpPort;
  }

  /** Its process id, while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Sends `signal` to the daemon (by its PID) and waits for it to exit. */
  async kill(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    await child.status;
  }

  /** Stops it with `signal` and starts it again on the same ports and files. */
  async restart(signal: Deno.Signal): Promise<void> {
    await this.kill(signal);
    await this.#launch();
  }

  /** Stops it (SIGTERM). Idempotent. */
  stop(): Promise<void> {
    return this.kill("SIGTERM");
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /**
   * Every message received so far, parsed; fails naming a line that is not
   * JSON. `torn` is how many lines may be cut short: an rsyslogd killed with
   * SIGKILL can leave the line it was writing unfinished (the message was
   * not acknowledged, so RELP sends it again whole).
   */
  async received(torn = 0): Promise<Received[]> {
    for (const line of await this.#appended.next()) {
      this.#lineNumber++;
      try {
        this.#messages.push(JSON.parse(line) as Received);
      } catch {
        this.#notJson.push(`line ${this.#lineNumber}: ${line.slice(0, 200)}`);
      }
    }
    if (this.#notJson.length > torn) {
      throw new Error(`${this.output} has lines that are not JSON: ${this.#notJson.join("; ")}`);
    }
    return this.#messages.slice();
  }

  // Polls parse only what rsyslog appended since the last one (it only
  // appends, across restarts too): parsing the whole file on every poll
  // made a test's CPU grow with the square of its size.
  #appended: AppendedLines;
  #lineNumber = 0;
  #messages: Received[] = [];
  #notJson: string[] = [];

  /**
   * Waits until at least `count` messages are in the output file, for at
   * most `timeoutMs`; fails saying what it waited for.
   */
  async waitForReceived(count: number, what: string, timeoutMs = 10_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const received = await this.received();
      if (received.length >= count) return received;
      if (Date.now() > deadline) {
        throw new Error(
          `waited ${timeoutMs} ms for ${count} messages (${what}); rsyslog has ${received.length}.` +
            this.#diagnostics(),
        );
      }
      await delay(50);
    }
  }

  /** The output's line count, cheaply (for benchmarks): counts "\n" in what was added since the last call. */
  async lineCount(): Promise<number> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.output);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return 0;
      throw error;
    }
    try {
      await file.seek(this.#counted.offset, Deno.SeekMode.Start);
      const chunk = new Uint8Array(1 << 20);
      for (let read = await file.read(chunk); read !== null; read = await file.read(chunk)) {
        for (let at = chunk.indexOf(10); at >= 0 && at < read; at = chunk.indexOf(10, at + 1)) {
          this.#counted.lines++;
        }
        this.#counted.offset += read;
      }
      return this.#counted.lines;
    } finally {
      file.close();
    }
  }

  #counted = { offset: 0, lines: 0 };

  async #launch() {
    const { dir } = this.options;
    const n = this.#starts++;
    const portFile = `${dir}/tcp_port_${n}`;
    const conf = `${dir}/rsyslog_${n}.conf`;
    await Deno.mkdir(`${dir}/work`, { recursive: true });
    await Deno.writeTextFile(conf, this.#config(portFile));
    const command = new Deno.Command("rsyslogd", {
      args: ["-n", "-f", conf, "-i", `${dir}/rsyslogd_${n}.pid`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    });
    const child = command.spawn();
    this.#child = child;
    this.#collectStderr(child);
    const deadline = Date.now() + 10_000;
    if (this.options.tcp !== undefined && this.options.tcp !== false) {
      this.#tcpPort ??= await this.#readPortFile(portFile, deadline);
      await this.#waitForPort(this.#tcpPort, "imtcp", deadline);
    }
    if (this.#relpPort !== undefined) await this.#waitForPort(this.#relpPort, "imrelp", deadline);
  }

  #config(portFile: string): string {
    const { dir, tls, queue = "direct" } = this.options;
    const lines = [
      `global(workDirectory="${dir}/work" maxMessageSize="256k"`,
      `  parser.escapeControlCharactersOnReceive="off" net.enableDNS="off"`,
      ...(tls === undefined ? [] : [
        `  defaultNetstreamDriverCAFile="${tls.ca}"`,
        `  defaultNetstreamDriverCertFile="${tls.cert}"`,
        `  defaultNetstreamDriverKeyFile="${tls.key}"`,
      ]),
      `)`,
      queue === "direct"
        ? `main_queue(queue.type="direct")`
        : `main_queue(queue.type="linkedList" queue.size="200000" queue.timeoutShutdown="10000")`,
      this.options.format === "msg"
        ? `template(name="jsonLines" type="string" string="%msg%\\n")`
        : `template(name="jsonLines" type="string" string="%jsonmesg%\\n")`,
    ];
    if (this.options.tcp !== undefined && this.options.tcp !== false) {
      lines.push(
        tls === undefined
          ? `module(load="imtcp" maxSessions="200")`
          : `module(load="imtcp" maxSessions="200" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")`,
        this.#tcpPort === undefined
          ? `input(type="imtcp" port="0" listenPortFileName="${portFile}")`
          : `input(type="imtcp" port="${this.#tcpPort}")`,
      );
    }
    if (this.#relpPort !== undefined) {
      lines.push(`module(load="imrelp")`, `input(type="imrelp" port="${this.#relpPort}")`);
    }
    lines.push(
      `if $inputname == "imtcp" or $inputname == "imrelp" then {`,
      `  action(type="omfile" file="${this.output}" template="jsonLines")`,
      `  stop`,
      `}`,
      `action(type="omfile" file="${dir}/rsyslogd.log")`,
    );
    return lines.join("\n") + "\n";
  }

  async #collectStderr(child: Deno.ChildProcess) {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) this.#stderr += decoder.decode(chunk);
  }

  async #readPortFile(path: string, deadline: number): Promise<number> {
    for (;;) {
      try {
        const text = (await Deno.readTextFile(path)).trim();
        if (/^\d+$/.test(text)) return Number(text);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      if (Date.now() > deadline) {
        throw new Error(`rsyslogd did not write its imtcp port to ${path}.${this.#diagnostics()}`);
      }
      await delay(20);
    }
  }

  // A plain connect, closed at once: imtcp and imrelp both take that.
  async #waitForPort(port: number, what: string, deadline: number) {
    for (;;) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conn.close();
        return;
      } catch (error) {
        if (!(error instanceof Deno.errors.ConnectionRefused)) throw error;
      }
      if (Date.now() > deadline) {
        throw new Error(`rsyslogd's ${what} did not listen on port ${port}.${this.#diagnostics()}`);
      }
      await delay(20);
    }
  }

  #diagnostics(): string {
    let log = "";
    try {
      log = Deno.readTextFileSync(`${this.options.dir}/rsyslogd.log`);
    } catch { /* none yet */ }
    return `\nrsyslogd stderr: ${this.#stderr.slice(-2_000)}\nrsyslogd log: ${log.slice(-2_000)}`;
  }
}

/**
 * A loopback TCP port nobody listens on now. (imrelp has no port file like
 * imtcp's listenPortFileName, so its port is picked this way; a clash
 * shows as a clear "did not listen" failure.)
 */

/** Makes a CA and a server certificate for 127.0.0.1 and localhost with openssl, in `dir`. */
export async function makeCertificates(dir: string): Promise<TlsFiles> {
  const files = { ca: `${dir}/ca.pem`, cert: `${dir}/server.pem`, key: `${dir}/server.key` };
  const run = async (...args: string[]) => {
    const { code, stderr } = await new Deno.Command("openssl", {
      args,
      stdout: "null",
      stderr: "piped",
    })
      .output();
    assert(code === 0, `openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
  };
  await Deno.writeTextFile(
    `${dir}/san.ext`,
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  await run(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1", // P-256: made in milliseconds, where RSA takes a while
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=workerlog test CA",
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    files.ca,
  );
  await run(
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1", // P-256: made in milliseconds, where RSA takes a while
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    files.key,
    "-out",
    `${dir}/server.csr`,
  );
  await run(
    "x509",
    "-req",
    "-in",
    `${dir}/server.csr`,
    "-CA",
    files.ca,
    "-CAkey",
    `${dir}/ca.key`,
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    `${dir}/san.ext`,
    "-out",
    files.cert,
  );
  return files;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
