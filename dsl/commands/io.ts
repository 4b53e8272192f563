// Where a command writes: the process's streams, or buffers in tests.

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

/** Exit statuses shared by every command (ARCHITECTURE.md, The command line). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
