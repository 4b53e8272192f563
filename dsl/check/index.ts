// The checker's entry: a file and its imports in, diagnostics out, and, only when there
// is no error, the checked program that the compiler accepts.

import { checkResources, type OpResources } from "./resources.js";
import { resolve as resolvePath } from "node:path";
import type { Expr, ReportItem } from "../ast.js";
import { error, hasErrors, sortDiagnostics, type Diagnostic } from "../diagnostics.js";
import { TOO_DEEP, withinStack } from "../parse.js";
import type { DataFileHost } from "./data-files.js";
import { ModuleLoader, type Module, type SourceHost } from "./program.js";
import { resolveModules, type Binding, type Resolution } from "./resolve.js";
import { TypeChecker, type ExprInfo } from "./typecheck.js";

declare const checkedBrand: unique symbol;

/** A program with no errors. Only `checkProgram` makes one, so nothing unchecked runs. */
export interface CheckedProgram {
  readonly [checkedBrand]: true;
  readonly root: Module;
  readonly modules: readonly Module[];
  /** The root file's top-level names, its own and imported ones. */
  readonly scope: ReadonlyMap<string, Binding>;
  /** The root file's `report` blocks. */
  readonly reports: readonly ReportItem[];
  readonly resolution: Resolution;
  /** Type and static value of every expression. */
  readonly info: ReadonlyMap<Expr, ExprInfo>;
  /** The root file's `resources` blocks, by op: what each of its batch jobs asks for. */
  readonly resources: ReadonlyMap<string, OpResources>;
}

export type CheckResult =
  | { readonly ok: true; readonly program: CheckedProgram; readonly diagnostics: readonly Diagnostic[] }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

export interface CheckOptions {
  /**
   * Where to look at the data files that calls name (`idx` paths, the `cifar10` folder):
   * `diskDataFiles` for `lth check`. Without it they are not looked at, and a program that
   * names files this machine lacks still checks (to compile, generate code, or plan elsewhere).
   */
  readonly dataFiles?: DataFileHost;
}

/**
 * What an editor needs of a file, with or without errors: its diagnostics, its modules, and,
 * unless a syntax error left holes in a tree, the names resolved and every expression's type.
 */
export interface Analysis {
  readonly diagnostics: readonly Diagnostic[];
  readonly root: Module;
  readonly modules: readonly Module[];
  readonly resolution?: Resolution;
  readonly info?: ReadonlyMap<Expr, ExprInfo>;
  readonly resources?: ReadonlyMap<string, OpResources>;
}

/** Analyses one file (and what it imports); `problem` when the file itself cannot be read. */
export function analyseProgram(path: string, loader: ModuleLoader = new ModuleLoader(), options: CheckOptions = {}): Analysis | { problem: string } {
  const loaded = loader.load(resolvePath(path));
  if ("problem" in loaded) return loaded;
  const diagnostics: Diagnostic[] = [...loaded.diagnostics];
  // Recovery leaves holes in a tree with syntax errors; checking it would report echoes.
  if (loaded.modules.some((m) => m.syntaxErrors)) {
    return { diagnostics: sortDiagnostics(diagnostics.filter((d) => d.code === "syntax")), root: loaded.root, modules: loaded.modules };
  }
  const checked = withinStack(() => {
    const resolution = resolveModules(loaded.modules, diagnostics);
    const types = new TypeChecker(resolution, diagnostics, options.dataFiles);
    types.run(loaded.modules);
    // Each file's resources blocks are checked; the root file's are the run's.
    const resources = new Map(loaded.modules.map((m) => [m, checkResources(m.source, m.ast.items, diagnostics)] as const));
    return { resolution, types, resources: resources.get(loaded.root)! };
  });
  if (!checked) diagnostics.push(error(loaded.root.source, { start: 0, end: 0 }, "syntax", TOO_DEEP));
  const base = { diagnostics: sortDiagnostics(diagnostics), root: loaded.root, modules: loaded.modules };
  return checked ? { ...base, resolution: checked.resolution, info: checked.types.info, resources: checked.resources } : base;
}

/** Checks one file (and what it imports); `problem` when the file itself cannot be read. */
export function checkProgram(path: string, loader: ModuleLoader = new ModuleLoader(), options: CheckOptions = {}): CheckResult | { problem: string } {
  const analysis = analyseProgram(path, loader, options);
  if ("problem" in analysis) return analysis;
  const { diagnostics, resolution, info, resources } = analysis;
  if (!resolution || !info || !resources || hasErrors(diagnostics)) return { ok: false, diagnostics };
  const program = {
    root: analysis.root,
    modules: analysis.modules,
    scope: resolution.fileScopes.get(analysis.root)!,
    reports: analysis.root.ast.items.filter((i): i is ReportItem => i.kind === "Report"),
    resolution,
    info,
    resources,
  } as unknown as CheckedProgram;
  return { ok: true, program, diagnostics };
}

/** An in-memory host: path → text. For tests and editors. */
export function memoryHost(files: Readonly<Record<string, string>>): SourceHost {
  const byPath = new Map(Object.entries(files).map(([p, t]) => [resolvePath(p), t]));
  return {
    read(path) {
      const text = byPath.get(resolvePath(path));
      return text === undefined ? { problem: "no such file" } : { text };
    },
  };
}

export { ModuleLoader, diskHost, type Module, type SourceHost } from "./program.js";
export type { OpResources } from "./resources.js";
export { diskDataFiles, type DataEntry, type DataFileHost } from "./data-files.js";
export type { Binding, LetBinding, LoopBinding, ArgSource, ResolvedCall, Resolution } from "./resolve.js";
export type { ExprInfo } from "./typecheck.js";
