// The op table: one declaration per op, consistent with itself, with the language
// contract (the standard library of LANGUAGE.md, whose checked-in copy is tests/fixtures/contract/stdlib-v0.md), and with the docs; free of TensorFlow.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { withinBounds } from "../../dsl/check/typecheck.js";
import { renderOpsMarkdown, signature } from "../../dsl/ops-doc.js";
import { OPS, type OpDecl } from "../../dsl/ops.js";
import { assignable, showType, typeOfValue } from "../../dsl/types.js";

const repo = join(import.meta.dirname, "../..");
const ops = [...OPS.values()];

describe("every op declaration", () => {
  it.each(ops.map((op) => [op.name, op] as const))("%s is complete and consistent", (_, op: OpDecl) => {
    expect(op.name).toMatch(/^[a-z][a-z0-9_]*$/);
    expect(Number.isInteger(op.version) && op.version >= 1).toBe(true);
    expect(op.doc.length).toBeGreaterThan(10);
    expect(new Set(op.params.map((p) => p.name)).size).toBe(op.params.length);
    op.params.forEach((p, i) => {
      expect(p.doc.length, p.name).toBeGreaterThan(2);
      if (!p.default) return;
      if (p.default.kind === "Param") {
        // A default taken from another parameter names an earlier one of the same type.
        const source = op.params.findIndex((q) => q.name === (p.default as { name: string }).name);
        expect(source, p.name).toBeGreaterThanOrEqual(0);
        expect(source).toBeLessThan(i);
        expect(showType(op.params[source]!.type)).toBe(showType(p.type));
        return;
      }
      expect(assignable(typeOfValue(p.default), p.type), `${p.name}'s default has its type`).toBe(true);
      if (p.bounds) expect(withinBounds(p.default, p.bounds), `${p.name}'s default is in range`).toBe(true);
    });
    for (const c of op.constraints ?? []) for (const name of c.params) expect(op.params.map((p) => p.name)).toContain(name);
  });
});

describe("the contract", () => {
  /** `(a: T = d, b: U) -> R` from the contract (tests/fixtures/contract/stdlib-v0.md), as [name, type, default] triples. */
  function contractRows(): [string[], string, [string, string, string | undefined][]][] {
    const table = readFileSync(join(repo, "tests/fixtures/contract/stdlib-v0.md"), "utf8");
    return table
      .split("\n")
      .filter((line) => line.startsWith("| `"))
      .map((line) => {
        const [, names = "", sig = ""] = /^\| (.+?) \| `(.+?)` \|/.exec(line)!;
        const [, params = "", result = ""] = /^\((.*)\) -> (\w+)$/.exec(sig.replace(/\\\|/g, "|"))!;
        const parsed = params === "" ? [] : params.split(", ").map((p) => {
          const [, name = "", type = "", fallback] = /^(\w+): ([^=]+?)(?: = (.+))?$/.exec(p)!;
          return [name, type, fallback] as [string, string, string | undefined];
        });
        return [[...names.matchAll(/`(\w+)`/g)].map((m) => m[1]!), result, parsed];
      });
  }

  it.each(contractRows())("%s keeps its version-0 signature", (names, result, params) => {
    for (const name of names) {
      const op = OPS.get(name);
      expect(op, name).toBeDefined();
      expect(showType(op!.result)).toBe(result);
      // The contract's parameters come first, in order, with the same types and defaults.
      params.forEach(([pname, ptype, fallback], i) => {
        const p = op!.params[i]!;
        expect(p.name).toBe(pname);
        // An enum may grow (prune's criteria): the contract's values stay, first and in order.
        if (p.type.kind === "Enum" && ptype.includes("|")) expect(showType(p.type).startsWith(ptype), `${name}.${pname}`).toBe(true);
        else expect(showType(p.type)).toBe(ptype);
        if (fallback === undefined) return expect(p.default, `${name}.${pname} is required`).toBeUndefined();
        const ours = p.default!;
        if (ours.kind === "Param") return expect(ours.name).toBe(fallback);
        const shown = ours.kind === "Int" || ours.kind === "Number" ? Number(fallback) : fallback;
        expect(ours.kind === "Int" || ours.kind === "Number" ? ours.value : signature(op!).match(new RegExp(`${pname}: [^,)]+ = ([^,)]+)`))?.[1]).toBe(shown);
      });
    }
  });

  it("covers every op of the contract, and beyond it only the pruning testbed's ops", () => {
    const contract = contractRows().flatMap(([names]) => names);
    // Issue 9's testbed (pruning during training, learned masks, greedy selection, stability) and issue 10's LoFT and data ops.
    const testbed = ["augment", "dpf", "filter_distance", "gmp", "greedy", "instability", "loft", "supermask", /* issue 19's recipes */ "resnet", "cifar100", /* issue 21 */ "concat", /* issue 22 */ "planted", "linear", "iht", "forward_greedy", "l1", "support_recovery", "distance_to_truth", "transfer", "compact", "continuous_sparsification"];
    expect(ops.map((op) => op.name).sort()).toEqual([...contract, ...testbed].sort());
  });
});

describe("the docs", () => {
  it("dsl/LANGUAGE.md carries the table `lth ops --markdown` prints", () => {
    const doc = readFileSync(join(repo, "dsl/LANGUAGE.md"), "utf8");
    const table = /<!-- ops:begin[^>]*-->\n([\s\S]*?)\n<!-- ops:end -->/.exec(doc)?.[1];
    expect(table).toBe(renderOpsMarkdown());
  });
});

describe("lth check stays instant", () => {
  it("nothing in dsl/ imports TensorFlow", () => {
    // The editor extension's own packages (dsl/editor/vscode/node_modules, after npm run package:vscode) are not the language's.
    const files = readdirSync(join(repo, "dsl"), { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.parentPath.includes("node_modules"));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const text = readFileSync(join(f.parentPath, f.name), "utf8");
      expect(text, f.name).not.toMatch(/@tensorflow/);
      for (const [, spec] of text.matchAll(/^(?:import|export)[^;]*? from "([^"]+)";/gm)) {
        // Only the language's own files, Node's built-ins and chevrotain; the language server (dsl/lsp) also its protocol library.
        const lsp = f.parentPath.endsWith(join("dsl", "lsp")) && (spec === "vscode-languageserver/node.js" || spec === "vscode-languageserver-textdocument");
        expect(spec!.startsWith(".") || spec!.startsWith("node:") || spec === "chevrotain" || lsp, `${f.name} imports ${spec}`).toBe(true);
      }
    }
  });
});
