/**
 * The directory the instances share: the socket, the lock file and (unless
 * the caller gives one) the token, in a directory only this user can enter.
 * Everything here is synchronous and small, so that `setupSharedLogging()`
 * can route the loggers before the module that calls it goes on.
 *
 * @module
 */
import { ensurePrivateDirectory } from "../common/_address.ts";
import { randomHex } from "../common/_frames.ts";
import { checkToken } from "../common/_options.ts";
import { InvalidOptionError } from "../errors.ts";

/** A Unix socket's path holds at most this many bytes (108 on Linux, 104 on macOS, with the NUL). */
const MAX_SOCKET_PATH_BYTES = Deno.build.os === "darwin" ? 103 : 107;

/** The files the instances of one path share. */
export interface SharedFiles {
  /** The socket. */
  path: string;
  /** The lock file: whoever holds its lock writes (see _leadership.ts). */
  lockPath: string;
  /** The token every instance presents. */
  token: string;
}

/**
 * Checks the path, creates its directory (0700) if missing, refuses one
 * that others can enter, and reads the token from `<path>.token` (creating
 * it, 0600, when missing) unless `token` is given.
 */
export function openSharedFiles(path: unknown, token: unknown): SharedFiles {
  const socket = checkSocketPath(path);
  ensurePrivateDirectory(socket, "choose a directory of your own");
  return {
    path: socket,
    lockPath: `${socket}.lock`,
    token: token === undefined
      ? readOrCreateToken(`${socket}.token`)
      : checkToken(token, "share one through <path>.token"),
  };
}

function checkSocketPath(path: unknown): string {
  if (typeof path !== "string" || !path.startsWith("/") || path.endsWith("/")) {
    throw new InvalidOptionError(
      "path",
      path,
      'an absolute path for the Unix socket the instances share, e.g. "/tmp/myapp-log/log.sock"',
    );
  }
  if (new TextEncoder().encode(path).length > MAX_SOCKET_PATH_BYTES) {
    throw new InvalidOptionError(
      "path",
      path,
      `a path of at most ${MAX_SOCKET_PATH_BYTES} bytes (the limit of a Unix socket's address)`,
    );
  }
  return path;
}

// The first instance writes a random token; every other reads it. The file
// is written whole under a name of its own and then linked into place,
// which fails if another instance got there first: so no instance ever
// reads a token half written, and all end up with the same one.
function readOrCreateToken(tokenPath: string): string {
  const existing = readToken(tokenPath);
  if (existing !== undefined) return existing;
  const draft = `${tokenPath}.${Deno.pid}.${crypto.randomUUID()}`;
  Deno.writeTextFileSync(draft, randomHex(32), { createNew: true, mode: 0o600 });
  try {
    Deno.linkSync(draft, tokenPath);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  } finally {
    Deno.removeSync(draft);
  }
  const token = readToken(tokenPath);
  if (token === undefined) {
    throw new InvalidOptionError(
      "token",
      undefined,
      `a token file at ${tokenPath} that stays: it vanished while it was being created`,
    );
  }
  return token;
}

function readToken(tokenPath: string): string | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(tokenPath);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  try {
    return checkToken(text.trim(), "get a random one");
  } catch {
    throw new InvalidOptionError(
      "token",
      "(hidden)",
      `a token file holding 16 to 512 characters without control characters; ${tokenPath} ` +
        `does not: remove it and a new one is written`,
    );
  }
}
