/**
 * Who writes: the instance that holds an exclusive lock on a file next to
 * the socket ("<path>.lock"). The kernel's flock() is the election: at most
 * one open file description holds it at a time, whichever thread or process
 * asks, and it is released when its holder unlocks, closes the file, or
 * dies, even by SIGKILL.
 *
 * Why a lock and not the bind alone: bind() on a Unix socket fails while any
 * file is at the path, live or stale, so a stale socket has to be removed
 * first, and "connect is refused, so remove the file, then bind" races: two
 * instances see the same refusal, one removes the stale file and binds, and
 * the other then removes the first one's live socket and binds too. Here
 * only the lock holder binds, and it removes what is at the path first; no
 * other instance can have bound there, since binding takes the lock.
 *
 * The lock file is never removed: removing it would let two instances lock
 * two different files under the same name.
 *
 * @module
 */

/** The lock on `<path>.lock`, tried without waiting. */
export class Leadership {
  readonly #file: Deno.FsFile;
  #held = false;
  #closed = false;

  /** Opens (creating, 0600) the lock file; takes nothing yet. */
  constructor(lockPath: string) {
    this.#file = Deno.openSync(lockPath, { read: true, write: true, create: true, mode: 0o600 });
  }

  /** Takes the lock if no one holds it; never waits. False once closed. */
  tryAcquire(): boolean {
    if (!this.#held && !this.#closed) this.#held = this.#file.tryLockSync(true);
    return this.#held;
  }

  /** Lets another instance take it. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#file.unlockSync();
  }

  /** Releases the lock and closes the file. */
  close(): void {
    if (this.#closed) return;
    this.release();
    this.#closed = true;
    try {
      this.#file.close();
    } catch {
      // Closed already.
    }
  }
}
