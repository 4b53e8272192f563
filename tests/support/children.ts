// Child processes that end with the test that started them. A test that times out or fails
// half-way must not leave an `lth run` (or a browser) training beside the tests that follow:
// on a 2-core machine one such orphan is enough to slow every later test past its limit.
//
// `withTest(child)` kills the child with SIGKILL when the test that spawned it finishes,
// whatever its outcome, and waits for it to be gone. A child spawned outside a test (in a
// beforeAll) is killed after its file's last test (tests/support/setup.ts).

import { onTestFinished } from "vitest";

/** What this module needs of a child: execa's subprocesses and node's ChildProcess both have it. */
export interface Killable {
  readonly pid?: number | undefined;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  kill(signal?: NodeJS.Signals | number): boolean;
  once(event: "exit", listener: () => void): unknown;
}

const live = new Set<Killable>();

/** SIGKILLs `child` unless it has exited, and resolves once it has. */
export function stop(child: Killable): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((gone) => {
    child.once("exit", () => gone());
    if (!child.kill("SIGKILL") && (child.exitCode !== null || child.signalCode !== null)) gone();
  });
}

/**
 * Registers `when` to run as the current test finishes; false outside a test (collection,
 * beforeAll and afterAll), where vitest has no test to attach it to.
 */
export function whenTestFinishes(when: (context: { task: { result?: { state?: string } } }) => void | Promise<void>): boolean {
  try {
    onTestFinished(when);
    return true;
  } catch {
    return false;
  }
}

/** Tracks `child` so that it is killed when the current test (or, outside one, its file) ends. */
export function withTest<T extends Killable>(child: T): T {
  live.add(child);
  child.once("exit", () => live.delete(child));
  whenTestFinishes(() => stop(child));
  return child;
}

const fileEnd: (() => void)[] = [];

/** Runs `when` after the current file's last test (for what a beforeAll made). */
export function whenFileFinishes(when: () => void): void {
  fileEnd.push(when);
}

/** Kills every tracked child still running, then runs what waits for the file's end (afterAll of every test file). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map(stop));
  for (const when of fileEnd.splice(0)) when();
}
