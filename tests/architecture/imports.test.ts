// The architecture's import rules (issue 16's target layout), checked over the sources.
//
// Every `.ts` file under dsl/, compiler/ and runtime/, and cli.ts and index.ts, is parsed with
// the TypeScript compiler's parser (no type checking: fast, and blind to nothing a regex could
// miss). Its imports are `import … from`, `import type … from`, `import "…"`, `export … from`,
// `export type … from`, `import("…")`, `import("…").T` in a type, `import x = require("…")`
// and `require("…")`. An import is *type-only* when it is erased from the JavaScript: `import
// type`, `export type`, an import or export whose every named item is `type`, and `import("…")`
// in a type. A dynamic import whose specifier is not a string literal cannot be resolved and
// is not checked (today: the tensor backend's and chevrotain's, both npm packages).
//
// Each rule is data below, with the reason it exists. Every import that breaks one is listed
// as `file → imported file: rule (reason)`; a rule's test fails with that list.

import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { posix } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * What an import may name: a repository path (a folder when it ends in "/", else one file),
 * `node:` (a node builtin) or `npm:` (a package).
 */
type Target = string;
const NODE: Target = "node:";
const NPM: Target = "npm:";

interface Exception {
  /** Only imports from files matching this (default: every file the rule is about). */
  readonly from?: Target;
  readonly to: Target;
  /** Excused only when the import is type-only. */
  readonly typeOnly?: true;
}

interface Rule {
  readonly id: string;
  /** Why the rule exists, in one line. */
  readonly reason: string;
  /** The files the rule is about. */
  readonly from: readonly Target[];
  /** Files among `from` the rule does not apply to. */
  readonly fromExcept?: readonly Target[];
  /** Either: the only targets allowed… */
  readonly only?: readonly Target[];
  /** …or: the targets not allowed. */
  readonly never?: readonly Target[];
  /** Imports that break `only` or `never` but are allowed all the same. */
  readonly except?: readonly Exception[];
}

const ALL: Target = "";

const RULES: readonly Rule[] = [
  {
    id: "dsl-stands-alone",
    reason: "the language (parser, checker, formatter, `lth check`) loads without the compiler or the runtime",
    from: ["dsl/"],
    never: ["compiler/", "runtime/"],
  },
  {
    id: "compiler-never-runs",
    reason: "the compiler turns checked programs into stage graphs; running them is the runtime's job",
    from: ["compiler/"],
    never: ["runtime/"],
  },
  {
    id: "core-is-the-bottom",
    reason: "the domain core is imported by everything, so it imports nothing of the runtime and no package",
    from: ["runtime/core/"],
    only: ["runtime/core/", NODE],
    except: [{ to: "compiler/stage.ts", typeOnly: true }],
  },
  {
    id: "store-is-a-leaf",
    reason: "the content-addressed store knows bytes, keys and files, not what the bytes mean or who writes them",
    from: ["runtime/store/"],
    only: ["runtime/store/", NODE, NPM],
  },
  {
    id: "faults-from-entry-points-only",
    reason: "test hooks reach the store through its write probe, installed by process entry points, never through an import in the write path",
    from: [ALL],
    fromExcept: ["cli.ts", "runtime/execute/worker.ts"],
    never: ["runtime/store/faults.ts"],
  },
  {
    id: "engine-is-self-contained",
    reason: "the tensor engine (backend, net, optimizers, training loop, kernels) is a library the methods use, not a user of them",
    from: ["runtime/engine/"],
    only: ["runtime/engine/", "runtime/core/", NPM, NODE],
  },
  {
    id: "methods-are-plug-ins",
    reason: "a method is one module that the executor runs through the op context; it does not reach back into the executor, the UI or the commands",
    from: ["runtime/methods/"],
    never: ["runtime/execute/", "runtime/ui/", "runtime/commands/", "runtime/report/", "runtime/api/", "runtime/plan.ts", "runtime/ops/"],
    except: [{ from: "runtime/methods/loft/", to: "runtime/execute/fork.ts" }, { to: "runtime/ops/context.ts" }],
  },
  {
    id: "ui-only-displays",
    reason: "terminal output shows what runs; it may name the runners' types but never loads them",
    from: ["runtime/ui/"],
    never: ["runtime/methods/", "runtime/ops/", "runtime/execute/"],
    except: [
      { to: "runtime/methods/", typeOnly: true },
      { to: "runtime/ops/", typeOnly: true },
      { to: "runtime/execute/", typeOnly: true },
    ],
  },
  {
    id: "ui-sees-only-engine-progress",
    reason: "the progress bar needs the engine's progress type, not the engine",
    from: ["runtime/ui/"],
    never: ["runtime/engine/"],
    except: [{ to: "runtime/engine/progress.ts" }],
  },
  {
    id: "commands-on-top",
    reason: "commands, the report and the API are the top layer: nothing below them depends on them",
    from: ["runtime/execute/", "runtime/store/", "runtime/engine/", "runtime/methods/", "runtime/core/"],
    never: ["runtime/commands/", "runtime/report/", "runtime/api/"],
  },
  {
    id: "tests-stay-in-tests",
    reason: "the product never ships or loads test code",
    from: [ALL],
    never: ["tests/"],
  },
];

/** Folders between which no import cycle may run (a cycle through files of other folders is not looked for). */
const ACYCLIC_FOLDERS = ["dsl/", "compiler/", "runtime/core/", "runtime/store/", "runtime/engine/"] as const;

// ---------------------------------------------------------------------------------------
// The checker: pure, over an in-memory file set, so that its own test can feed it fakes.

interface Import {
  readonly file: string;
  /** A repository path (resolved, `.js` read as `.ts`), or `node:NAME`, or `npm:NAME`. */
  readonly target: string;
  readonly typeOnly: boolean;
}

interface Violation {
  readonly file: string;
  readonly target: string;
  readonly rule: string;
  readonly reason: string;
}

const BUILTINS = new Set(builtinModules);

function resolve(file: string, specifier: string, files: ReadonlyMap<string, string>): string {
  if (specifier.startsWith("node:") || BUILTINS.has(specifier)) return `node:${specifier.replace(/^node:/, "")}`;
  if (!specifier.startsWith(".")) {
    const parts = specifier.split("/");
    return `npm:${specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]}`;
  }
  const path = posix.normalize(posix.join(posix.dirname(file), specifier));
  if (/\.[cm]?js$/.test(path)) return path.replace(/\.([cm]?)js$/, ".$1ts");
  if (files.has(path) || /\.\w+$/.test(path)) return path;
  if (files.has(`${path}.ts`)) return `${path}.ts`;
  if (files.has(`${path}/index.ts`)) return `${path}/index.ts`;
  return path;
}

/** Every import of one file, by the TypeScript parser. */
function importsOf(file: string, text: string, files: ReadonlyMap<string, string>): Import[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Import[] = [];
  const add = (specifier: ts.Node | undefined, typeOnly: boolean) => {
    if (specifier && ts.isStringLiteralLike(specifier)) found.push({ file, target: resolve(file, specifier.text, files), typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      // `import type …`, or `import { type A, type B }` (erased whole); a bare `import "x"` runs x.
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      add(node.moduleSpecifier, node.isTypeOnly || (!!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node)) {
      const argument = node.argument;
      if (ts.isLiteralTypeNode(argument)) add(argument.literal, true);
    } else if (ts.isCallExpression(node)) {
      const dynamic = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const required = ts.isIdentifier(node.expression) && node.expression.text === "require";
      if ((dynamic || required) && node.arguments.length > 0) add(node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const matches = (path: string, target: Target): boolean =>
  target === ALL || (target.endsWith("/") || target.endsWith(":") ? path.startsWith(target) : path === target);

const excused = (i: Import, exceptions: readonly Exception[] = []): boolean =>
  exceptions.some((e) => (e.from === undefined || matches(i.file, e.from)) && matches(i.target, e.to) && (!e.typeOnly || i.typeOnly));

function breaks(rule: Rule, i: Import): boolean {
  if (!rule.from.some((t) => matches(i.file, t)) || rule.fromExcept?.some((t) => matches(i.file, t))) return false;
  const bad = rule.only ? !rule.only.some((t) => matches(i.target, t)) : (rule.never ?? []).some((t) => matches(i.target, t));
  return bad && !excused(i, rule.except);
}

/** The import graph of a file set: each file's imports, in order. */
function importGraph(files: ReadonlyMap<string, string>): Import[] {
  return [...files].flatMap(([file, text]) => importsOf(file, text, files));
}

/** Every import that breaks a rule, in file order; one entry per (file, target, rule). */
function violations(graph: readonly Import[], rules: readonly Rule[] = RULES): Violation[] {
  const out = new Map<string, Violation>();
  for (const rule of rules) {
    for (const i of graph) {
      if (breaks(rule, i)) out.set(`${rule.id}\0${i.file}\0${i.target}`, { file: i.file, target: i.target, rule: rule.id, reason: rule.reason });
    }
  }
  return [...out.values()];
}

/** The folder of `folders` a path lies in (the longest that matches), if any. */
const folderOf = (path: string, folders: readonly string[]): string | undefined =>
  folders.filter((f) => path.startsWith(f)).sort((a, b) => b.length - a.length)[0];

/**
 * The import cycles between folders: each strongly connected set of two or more folders,
 * with the file imports that join them. Type-only imports count: they tie the folders'
 * designs together all the same.
 */
function folderCycles(graph: readonly Import[], folders: readonly string[] = ACYCLIC_FOLDERS): { folders: string[]; edges: string[] }[] {
  const edges = new Map<string, Map<string, string[]>>();
  for (const i of graph) {
    const a = folderOf(i.file, folders);
    const b = folderOf(i.target, folders);
    if (!a || !b || a === b) continue;
    const out = edges.get(a) ?? new Map<string, string[]>();
    edges.set(a, out);
    out.set(b, [...(out.get(b) ?? []), `${i.file} → ${i.target}`]);
  }
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const components: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      for (let w = stack.pop()!; ; w = stack.pop()!) {
        component.push(w);
        if (w === v) break;
      }
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const f of folders) if (!index.has(f)) connect(f);
  return components.map((c) => ({
    folders: c,
    edges: c.flatMap((a) => c.flatMap((b) => edges.get(a)?.get(b) ?? [])),
  }));
}

const describeViolation = (v: Violation): string => `${v.file} → ${v.target}: ${v.rule}`;

// ---------------------------------------------------------------------------------------
// The sources.

const repo = fileURLToPath(new URL("../../", import.meta.url));

function sources(): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of ["cli.ts", "index.ts"]) files.set(name, readFileSync(posix.join(repo, name), "utf8"));
  for (const folder of ["dsl", "compiler", "runtime"]) {
    for (const entry of readdirSync(posix.join(repo, folder), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith(".ts")) continue;
      // Packages installed inside the tree (the editor extension's, after npm run package:vscode) are not ours.
      if (entry.parentPath.split("/").includes("node_modules")) continue;
      const path = posix.relative(repo, posix.join(entry.parentPath, entry.name));
      files.set(path, readFileSync(posix.join(repo, path), "utf8"));
    }
  }
  return files;
}

describe("the architecture's import rules", () => {
  const files = sources();
  const graph = importGraph(files);
  const found = violations(graph);

  it("sees the whole source tree", () => {
    // Not vacuous: the files and imports every layer has.
    for (const path of ["cli.ts", "index.ts", "dsl/parser.ts", "compiler/compile.ts", "runtime/store/store.ts", "runtime/execute/worker.ts"]) expect(files.has(path), path).toBe(true);
    expect(graph.some((i) => i.file === "cli.ts" && i.target === "dsl/commands/io.ts")).toBe(true);
    expect(graph.some((i) => i.file === "runtime/store/store.ts" && i.target === "npm:proper-lockfile")).toBe(true);
    // Every relative import names a file that exists (a typo would hide an edge from every rule).
    const missing = graph.filter((i) => !i.target.includes(":") && !i.target.startsWith("tests/") && !files.has(i.target) && !i.target.endsWith(".json"));
    expect(missing.map((i) => `${i.file} → ${i.target}`)).toEqual([]);
  });

  it.each(RULES.map((rule) => [rule.id, rule] as const))("%s", (_, rule) => {
    const broken = found.filter((v) => v.rule === rule.id);
    if (broken.length > 0) expect.fail(`${broken.length} import(s) break ${rule.id} (${rule.reason}):\n  ${broken.map(describeViolation).join("\n  ")}`);
  });

  it(`no import cycle between ${ACYCLIC_FOLDERS.join(", ")}`, () => {
    const cycles = folderCycles(graph);
    if (cycles.length > 0) expect.fail(`import cycles between folders:\n${cycles.map((c) => `${c.folders.join(" ⇄ ")}:\n  ${c.edges.join("\n  ")}`).join("\n")}`);
  });
});

describe("the import checker itself", () => {
  const check = (files: Record<string, string>) => violations(importGraph(new Map(Object.entries(files))));

  it("reports exactly the import that breaks a rule", () => {
    const fake = {
      "runtime/engine/train.ts": `import { num } from "../ops/context.js";\nimport { select } from "../core/select.js";\nimport * as tf from "@tensorflow/tfjs-core";\n`,
      "runtime/ops/context.ts": `export const num = 1;\n`,
      "runtime/core/select.ts": `import type { ParamValue } from "../../compiler/stage.js";\nexport const select = 1;\n`,
      "compiler/stage.ts": `export type ParamValue = number;\n`,
    };
    expect(check(fake)).toEqual([
      {
        file: "runtime/engine/train.ts",
        target: "runtime/ops/context.ts",
        rule: "engine-is-self-contained",
        reason: RULES.find((r) => r.id === "engine-is-self-contained")!.reason,
      },
    ]);
  });

  it("sees export-from, dynamic imports, require and import types; a type-only exception excuses only type-only imports", () => {
    const fake = {
      "runtime/core/a.ts": `export { x } from "../../compiler/stage.js";\nexport type { Y } from "../../compiler/stage.js";\n`,
      "runtime/core/b.ts": `const m = await import("../store/store.js");\nlet t: import("../engine/train.js").T;\n`,
      "runtime/core/c.ts": `import { type A, type B } from "../../compiler/stage.js";\nimport chevrotain = require("chevrotain");\n`,
      "runtime/ui/progress.ts": `import type { Task } from "../execute/task.js";\nimport { run } from "../execute/task.js";\nimport type { P } from "../engine/progress.js";\n`,
      "runtime/store/store.ts": `import "../../tests/support/setup.js";\n`,
    };
    expect(check(fake).map((v) => `${v.file} → ${v.target}: ${v.rule}`)).toEqual([
      "runtime/core/a.ts → compiler/stage.ts: core-is-the-bottom",
      "runtime/core/b.ts → runtime/store/store.ts: core-is-the-bottom",
      "runtime/core/b.ts → runtime/engine/train.ts: core-is-the-bottom",
      "runtime/core/c.ts → npm:chevrotain: core-is-the-bottom",
      "runtime/store/store.ts → tests/support/setup.ts: store-is-a-leaf",
      "runtime/ui/progress.ts → runtime/execute/task.ts: ui-only-displays",
      "runtime/store/store.ts → tests/support/setup.ts: tests-stay-in-tests",
    ]);
  });

  it("allows only the entry points to import the fault hooks", () => {
    const fake = {
      "cli.ts": `await import("./runtime/store/faults.js");\n`,
      "runtime/execute/worker.ts": `import { installFaults } from "../store/faults.js";\n`,
      "runtime/execute/scheduler.ts": `import { installFaults } from "../store/faults.js";\n`,
    };
    expect(check(fake).map((v) => `${v.file} → ${v.target}: ${v.rule}`)).toEqual(["runtime/execute/scheduler.ts → runtime/store/faults.ts: faults-from-entry-points-only"]);
  });

  it("finds a cycle between folders, with the imports that make it", () => {
    const graph = importGraph(
      new Map(
        Object.entries({
          "runtime/store/store.ts": `import { x } from "../engine/train.js";\n`,
          "runtime/engine/train.ts": `import type { Digest } from "../store/store.js";\nimport { y } from "../core/select.js";\n`,
          "runtime/core/select.ts": ``,
        }),
      ),
    );
    expect(folderCycles(graph)).toEqual([
      { folders: ["runtime/engine/", "runtime/store/"], edges: ["runtime/engine/train.ts → runtime/store/store.ts", "runtime/store/store.ts → runtime/engine/train.ts"] },
    ]);
  });
});
