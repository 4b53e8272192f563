// Where a command writes (the process's streams, or buffers in tests), and what it reads.

import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

export interface CommandIO {
  /** Results: diagnostics, tables, JSON. */
  out(text: string): void;
  /** Summaries and problems with the command itself. */
  err(text: string): void;
  readonly cwd: string;
}

export const processIO: CommandIO = {
  out: (text) => void process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
  err: (text) => void process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
  get cwd() {
    return process.cwd();
  },
};

/** Exit statuses shared by every command: 0 all up to date, 1 a stage failed, 2 a usage or language error. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * The files a command works on, or undefined (said on stderr) when the arguments name none.
 */
export function filesOrUsage(command: string, args: readonly string[], io: CommandIO): string[] | undefined {
  const files = lthFiles(args, io.cwd);
  if (files.length > 0) return files;
  io.err(`lth ${command}: no .lth files in ${args.join(", ")}`);
  return undefined;
}

/**
 * The files a command works on: each argument as given, or, for a folder, every `.lth`
 * file below it (sorted). Only files count: a folder whose name ends in `.lth` is searched,
 * not read as a pipeline. Dot-files, dot-folders (such as the `.lth` store beside a
 * pipeline) and `node_modules` are skipped without being read, so a large store does not
 * slow `check` down. A link to a `.lth` file counts; a link to a folder is not followed (it
 * could lead back up the tree).
 */
function lthFiles(args: readonly string[], cwd: string): string[] {
  return args.flatMap((arg) => {
    const path = resolve(cwd, arg);
    if (!existsSync(path) || !statSync(path).isDirectory()) return [arg];
    const found: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.name.startsWith(".") || e.name === "node_modules") continue;
        const full = join(dir, e.name);
        if (e.isDirectory()) walk(full);
        else if (e.name.endsWith(".lth") && (e.isFile() || (e.isSymbolicLink() && isFile(full)))) {
          found.push(relative(path, full));
        }
      }
    };
    walk(path);
    return found.sort().map((rel) => join(arg, rel));
  });
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
