/**
 * spawn()'s `processes` option: checking it, and the `deno run` flags of
 * each process, with the few permissions spawn() adds merged into the
 * user's. Deno unions repeated list flags (`--allow-read=a --allow-read=b`),
 * but a list next to the bare flag narrows it (`--allow-read
 * --allow-read=a` grants only a) and `--allow-all` refuses any other allow
 * flag, so the flags are merged per kind rather than appended.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.ts";

/**
 * How spawn() runs its functions in processes: the option `processes` of
 * {@linkcode SpawnOptions}. A process gets exactly the permissions listed
 * here; spawn() adds only read, write and net access to the listener's
 * socket, write access to the one file it reports through, and read access
 * to the variable WORKERLOG_SPAWNED.
 *
 * @example Four processes that may read ./data and reach one API, with 256 MB heaps
 * ```ts
 * import type { SpawnProcessOptions } from "@workerlog/workerlog";
 *
 * const processes: SpawnProcessOptions = {
 *   permissions: ["--allow-read=./data", "--allow-net=api.example.com:443"],
 *   flags: ["--v8-flags=--max-old-space-size=256"],
 * };
 * ```
 */
export interface SpawnProcessOptions {
  /**
   * The permissions of each process, as `deno run` flags: "--allow-read=data",
   * "--allow-net=api.example.com:443", "--allow-env=HOME", "--deny-write=/etc",
   * "--allow-all" (or their short forms, e.g. "-R=data", "-A"). Required:
   * pass `[]` for none. Nothing is granted by default.
   */
  permissions: string[];
  /**
   * Other `deno run` flags for each process, each with its value after "=":
   * "--v8-flags=--max-old-space-size=256", "--config=deno.json",
   * "--cached-only". Default: none.
   */
  flags?: string[];
}

/** The kinds of permission a flag can grant or deny. */
export type PermissionKind =
  | "read"
  | "write"
  | "net"
  | "env"
  | "sys"
  | "run"
  | "ffi"
  | "import";

const KINDS: readonly PermissionKind[] = [
  "read",
  "write",
  "net",
  "env",
  "sys",
  "run",
  "ffi",
  "import",
];
const SHORT: Record<string, PermissionKind> = {
  R: "read",
  W: "write",
  N: "net",
  E: "env",
  S: "sys",
  I: "import",
};
// Short forms: only the letters of permissions (-L, say, is --log-level).
const PERMISSION_FLAG = /^(?:--(allow|deny)-([a-z]+)|-([RWNESI]))(?:=(.*))?$/s;

/** The user's permissions, parsed: what each kind allows, and the deny flags as given. */
export interface Permissions {
  all: boolean;
  allow: Map<PermissionKind, "all" | string>;
  deny: string[];
}

/** The checked option: its permissions parsed, its flags as given. */
export interface ProcessPlan {
  permissions: Permissions;
  flags: string[];
}

/** Checks the `processes` option. */
export function checkProcesses(value: unknown): ProcessPlan {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(
      "processes",
      value,
      'an object such as { permissions: ["--allow-read=data"] }',
    );
  }
  const { permissions, flags = [] } = value as Partial<SpawnProcessOptions>;
  if (!Array.isArray(permissions)) {
    throw new InvalidOptionError(
      "processes.permissions",
      permissions,
      'the permissions of each process as deno run flags, e.g. ["--allow-read=data"], or [] ' +
        "for none: spawn() never grants them by default",
    );
  }
  if (!Array.isArray(flags)) {
    throw new InvalidOptionError(
      "processes.flags",
      flags,
      'an array of deno run flags, e.g. ["--v8-flags=--max-old-space-size=256"]',
    );
  }
  flags.forEach((flag, i) => checkFlag(`processes.flags[${i}]`, flag));
  return { permissions: parsePermissions(permissions), flags: [...flags] };
}

function parsePermissions(flags: unknown[]): Permissions {
  const parsed: Permissions = { all: false, allow: new Map(), deny: [] };
  flags.forEach((flag, i) => {
    const option = `processes.permissions[${i}]`;
    if (flag === "--allow-all" || flag === "-A") {
      parsed.all = true;
      return;
    }
    const match = typeof flag === "string" ? PERMISSION_FLAG.exec(flag) : null;
    const kind = match && (match[3] ? SHORT[match[3]] : match[2] as PermissionKind);
    const list = match?.[4];
    if (!match || !KINDS.includes(kind!) || list === "") {
      throw new InvalidOptionError(
        option,
        flag,
        'a deno permission flag such as "--allow-read=data", "--allow-net=api.example.com" ' +
          'or "--deny-env=TOKEN" (other deno run flags go in processes.flags)',
      );
    }
    if (match[1] === "deny") {
      parsed.deny.push(`--deny-${kind}${list === undefined ? "" : `=${list}`}`);
      return;
    }
    const before = parsed.allow.get(kind!);
    if (before === "all" || list === undefined) parsed.allow.set(kind!, "all");
    else parsed.allow.set(kind!, before === undefined ? list : `${before},${list}`);
  });
  return parsed;
}

function checkFlag(option: string, flag: unknown) {
  if (typeof flag !== "string" || !flag.startsWith("-")) {
    throw new InvalidOptionError(
      option,
      flag,
      'a deno run flag, with its value after "=" (e.g. "--config=deno.json")',
    );
  }
  if (flag === "-A" || PERMISSION_FLAG.test(flag)) {
    throw new InvalidOptionError(
      option,
      flag,
      "no permission flag: they go in processes.permissions",
    );
  }
  if (/^--(preload|require|no-prompt|prompt)(=|$)/.test(flag)) {
    throw new InvalidOptionError(option, flag, "a flag spawn() does not set itself");
  }
}

/**
 * The permission flags of one process: the user's, with `needs` (what spawn
 * adds) merged into each kind that is not already granted in full.
 */
export function permissionFlags(
  permissions: Permissions,
  needs: Partial<Record<PermissionKind, string[]>>,
): string[] {
  if (permissions.all) return ["--allow-all", ...permissions.deny];
  const allow = new Map(permissions.allow);
  for (const [kind, items] of Object.entries(needs) as [PermissionKind, string[]][]) {
    for (const item of items) {
      if (item.includes(",")) {
        throw new InvalidOptionError(
          "processes",
          item,
          "paths without commas, which a deno permission flag cannot express: set TMPDIR, or " +
            "the listener's path, to one without",
        );
      }
    }
    const before = allow.get(kind);
    if (before === "all") continue;
    allow.set(kind, [...(before === undefined ? [] : [before]), ...items].join(","));
  }
  const flags = [...allow].map(([kind, list]) =>
    list === "all" ? `--allow-${kind}` : `--allow-${kind}=${list}`
  );
  return [...flags, ...permissions.deny];
}
