// Offline stand-in for the slice of jsr:@std/fs@^1.0.0 this project uses.

/** Creates `dir` and its parents unless it exists; throws if it is not a directory. */
export async function ensureDir(dir: string | URL): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const info = await Deno.lstat(dir);
  if (!info.isDirectory) {
    throw new Error(`Ensure path exists, expected 'dir', got '${kind(info)}'`);
  }
}

/** Synchronous {@linkcode ensureDir}. */
export function ensureDirSync(dir: string | URL): void {
  try {
    Deno.mkdirSync(dir, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const info = Deno.lstatSync(dir);
  if (!info.isDirectory) {
    throw new Error(`Ensure path exists, expected 'dir', got '${kind(info)}'`);
  }
}

/** Whether anything exists at `path`. */
export async function exists(path: string | URL): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Synchronous {@linkcode exists}. */
export function existsSync(path: string | URL): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function kind(info: Deno.FileInfo): string {
  return info.isFile ? "file" : info.isSymlink ? "symlink" : "dir";
}
