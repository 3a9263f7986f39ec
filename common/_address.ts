/**
 * Listener addresses as one string, the way `listen()` hands them to a
 * child process and `setupProcessLogging()` reads them back:
 * "unix:/run/app/log.sock", "tcp:127.0.0.1:4560", "tls:logs.example:4560".
 *
 * @module
 */
import { InvalidOptionError } from "../errors.ts";

/** The environment variable that carries the listener's address. */
export const ADDRESS_ENV = "WORKERLOG_ADDRESS";
/** The environment variable that carries the listener's token. */
export const TOKEN_ENV = "WORKERLOG_TOKEN";
/** The environment variable that carries the lowest level the listener writes. */
export const LEVEL_ENV = "WORKERLOG_LEVEL";
/** The environment variable that names the sending process. */
export const NAME_ENV = "WORKERLOG_NAME";

/** Where a listener listens. */
export type SocketAddress =
  | { transport: "unix"; path: string }
  | { transport: "tcp" | "tls"; hostname: string; port: number };

/** The address as one string. */
export function formatAddress(address: SocketAddress): string {
  if (address.transport === "unix") return `unix:${address.path}`;
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `${address.transport}:${host}:${address.port}`;
}

/** Parses what `formatAddress()` makes; `option` names the option or variable in errors. */
export function parseAddress(option: string, text: unknown): SocketAddress {
  const fail = () =>
    new InvalidOptionError(
      option,
      text,
      'a listener address such as "unix:/tmp/workerlog-x/listener.sock", "tcp:127.0.0.1:4560" ' +
        'or "tls:logs.example.com:4560" (what listener.listen() returns as address)',
    );
  if (typeof text !== "string") throw fail();
  if (text.startsWith("unix:")) {
    const path = text.slice(5);
    if (path === "") throw fail();
    return { transport: "unix", path };
  }
  const match = /^(tcp|tls):(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(text);
  if (match === null) throw fail();
  const port = Number(match[4]);
  if (port < 1 || port > 65535) throw fail();
  return { transport: match[1] as "tcp" | "tls", hostname: match[2] ?? match[3], port };
}

/**
 * Makes the directory of a Unix socket at `path` (mode 0700) if missing,
 * and refuses one that others can enter: the directory is what keeps other
 * users from the socket. `otherwise` says what else the user can do.
 */
export function ensurePrivateDirectory(path: string, otherwise: string): void {
  const directory = directoryOf(path);
  Deno.mkdirSync(directory, { recursive: true, mode: 0o700 });
  const mode = Deno.statSync(directory).mode;
  if (mode !== null && (mode & 0o077) !== 0) {
    throw new InvalidOptionError(
      "path",
      path,
      `a path in a directory only this user can enter; ${directory} has mode ` +
        `${(mode & 0o777).toString(8)}: chmod 700 it, or ${otherwise}`,
    );
  }
}

/** The directory part of `path`: "." for a bare name, "/" for a file at the root. */
export function directoryOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}
