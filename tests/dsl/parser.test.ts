// The parser: every grammar form parses, each node's range covers exactly its text, and
// one pass reports every syntax error.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import type * as A from "../../dsl/ast.js";
import { CHEVROTAIN_BUNDLE } from "../../dsl/chevrotain.js";
import { lthParser } from "../../dsl/parser.js";
import { parseText, withinStack } from "../../dsl/parse.js";

const everyForm = readFileSync(join(import.meta.dirname, "../fixtures/valid/every-form.lth"), "utf8");

function syntaxErrors(text: string): string[] {
  const parsed = parseText("/t.lth", text);
  return parsed.diagnostics.map((d) => {
    const p = parsed.source.position(d.range.start);
    return `${p.line}:${p.column}`;
  });
}

function slice(text: string, node: { range: A.Node["range"] }): string {
  return text.slice(node.range.start, node.range.end);
}

function firstLetValue(text: string): A.Expr {
  const parsed = parseText("/t.lth", text);
  expect(parsed.diagnostics).toEqual([]);
  const item = parsed.ast.items[0];
  if (item?.kind !== "Let") throw new Error("expected a let");
  return item.value;
}

describe("a valid file using every grammar form", () => {
  const parsed = parseText("/every-form.lth", everyForm);

  it("parses with no diagnostics", () => {
    expect(parsed.diagnostics).toEqual([]);
  });

  it("has every kind of item and expression", () => {
    const kinds = new Set<string>();
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(visit);
      if (node === null || typeof node !== "object") return;
      const kind = (node as { kind?: string }).kind;
      if (kind) kinds.add(kind);
      for (const value of Object.values(node)) visit(value);
    };
    visit(parsed.ast.items);
    for (const kind of ["Import", "Defaults", "Let", "Report", "Call", "Arg", "Pipe", "List", "Index", "Negate", "Paren", "Repeat", "For", "Block", "Name", "Number", "Percent", "Duration", "String", "Bool"]) {
      expect(kinds, kind).toContain(kind);
    }
    expect(kinds).not.toContain("Missing");
  });

  it("has a replicate block", () => {
    const replicates = parsed.ast.items.filter((i) => i.kind === "Let" && i.value.kind === "For" && i.value.replicate);
    expect(replicates).toHaveLength(1);
  });

  it("keeps every comment", () => {
    expect(parsed.ast.comments.map((c) => c.text.slice(0, 2))).toEqual(["/*", "//"]);
  });

  it("gives every node a range that covers exactly its text", () => {
    for (const item of parsed.ast.items) {
      if (item.kind === "Let") {
        expect(slice(everyForm, item)).toMatch(new RegExp(`^let ${item.name.name} =`));
        expect(slice(everyForm, item.name)).toBe(item.name.name);
      }
    }
  });
});

describe("expressions", () => {
  it("reads a pipe as the call with the piped value first", () => {
    const text = "let c = ticket |> reinit(seed: 99) |> train(data, 5 epochs)";
    const value = firstLetValue(text);
    expect(value.kind).toBe("Pipe");
    if (value.kind !== "Pipe") return;
    expect(value.call.op.name).toBe("train");
    expect(value.input.kind).toBe("Pipe");
    expect(slice(text, value)).toBe("ticket |> reinit(seed: 99) |> train(data, 5 epochs)");
    expect(slice(text, value.input)).toBe("ticket |> reinit(seed: 99)");
  });

  it("indexes left to right, with negative indexes", () => {
    const text = "let x = xs[-1][0]";
    const value = firstLetValue(text);
    expect(value.kind).toBe("Index");
    if (value.kind !== "Index" || value.target.kind !== "Index") throw new Error("nested index expected");
    expect(slice(text, value.target)).toBe("xs[-1]");
    expect(value.target.index.kind).toBe("Negate");
  });

  it("reads quantities with their units", () => {
    const value = firstLetValue("let q = [20%, 12.5%, 5 epochs, 1 epoch, 500 steps, 1 step, 3epochs, 1.2e-3, 42]");
    if (value.kind !== "List") throw new Error("list expected");
    expect(value.items.map((i) => (i.kind === "Duration" ? `${i.count} ${i.unit}` : i.kind === "Percent" ? `${i.value}%` : i.kind === "Number" ? `${i.value}${i.integer ? "i" : "n"}` : i.kind))).toEqual([
      "20%",
      "12.5%",
      "5 epochs",
      "1 epochs",
      "500 steps",
      "1 steps",
      "3 epochs",
      "0.0012n",
      "42i",
    ]);
  });

  it("decodes the three string escapes", () => {
    const value = firstLetValue(String.raw`let s = "a \"b\" c\\d\ne"`);
    expect(value.kind === "String" && value.value).toBe('a "b" c\\d\ne');
  });

  it("does not read a name that starts like a keyword or unit as one", () => {
    const value = firstLetValue("let letter = f(importance, stepsize, epochal, infinity, asx)");
    if (value.kind !== "Call") throw new Error("call expected");
    expect(value.args.map((a) => a.value.kind)).toEqual(["Name", "Name", "Name", "Name", "Name"]);
    const replicas = firstLetValue("let a = f(replicates, replicated)");
    expect(replicas.kind === "Call" && replicas.args.map((a) => a.value.kind)).toEqual(["Name", "Name"]);
  });

  it("reads a replicate block as a for over 1 … N, keeping the count as written", () => {
    const text = "let runs = replicate 3 as seed {\n  let n = init(a, d, seed: seed)\n  yield train(n, d, 1 epoch)\n}";
    const value = firstLetValue(text);
    if (value.kind !== "For" || !value.replicate) throw new Error("replicate expected");
    expect(slice(text, value)).toBe(text.slice("let runs = ".length));
    expect(slice(text, value.replicate.count)).toBe("3");
    expect(value.variable.name).toBe("seed");
    expect(value.over.kind === "List" && value.over.items.map((i) => i.kind === "Number" && i.value)).toEqual([1, 2, 3]);
    expect(value.body.lets.map((l) => l.name.name)).toEqual(["n"]);
  });
});

describe("syntax errors", () => {
  it("reports every error of a file in one pass, each where it is", () => {
    const text = [
      "let data = mnist(train: 1000,, test: 500)", // 1:30 the second comma
      "let net0 = = init(lenet_300_100(), data)", // 2:12 the second '='
      "let dense = train(net0 data, 1 epoch)", // 3:24 'data' where ',' belongs
      "let ok = prune(dense, 20%)",
      "report { dense ok }", // 5:16 'ok' where ',' belongs
    ].join("\n");
    expect(syntaxErrors(text)).toEqual(["1:30", "2:12", "3:24", "5:16"]);
  });

  it("anchors an error at the end of the file just past the last token", () => {
    expect(syntaxErrors("let a = mnist(\n  train: 100,")).toEqual(["2:14"]);
    expect(syntaxErrors("let a =")).toEqual(["1:8"]);
  });

  it("counts columns in code points", () => {
    // 'é' and '😀' are one column each, though '😀' is two UTF-16 units.
    expect(syntaxErrors('let a = f("é😀", @)')).toEqual(["1:17"]);
  });

  it("does not count a byte-order mark as a column", () => {
    expect(syntaxErrors("\ufefflet a = @")).toEqual(["1:9"]);
  });

  it("reports a reserved word used as a name", () => {
    const parsed = parseText("/t.lth", "let yield = 3");
    expect(parsed.diagnostics.map((d) => d.message)).toEqual(["'yield' is a reserved word and cannot be used as a name"]);
  });

  it("refuses nesting past the limit instead of overflowing the stack", () => {
    expect(syntaxErrors(`let a = ${"(".repeat(5000)}1${")".repeat(5000)}`)).toEqual(["1:109"]);
    expect(syntaxErrors(`let a = ${"-".repeat(5000)}1`)).toEqual(["1:109"]);
  });
});

describe("the last guard against deep recursion", () => {
  it("turns a stack overflow into undefined and lets every other error through", () => {
    const deep = (n: number): number => deep(n + 1) + 1;
    expect(withinStack(() => deep(0))).toBeUndefined();
    expect(withinStack(() => 7)).toBe(7);
    expect(() =>
      withinStack(() => {
        throw new RangeError("Invalid array length");
      }),
    ).toThrow("Invalid array length");
  });
});

describe("chevrotain", () => {
  it("comes from the bundle its package ships, which is the package's own code", async () => {
    expect(existsSync(CHEVROTAIN_BUNDLE)).toBe(true);
    const bundle = (await import(pathToFileURL(CHEVROTAIN_BUNDLE).href)) as Record<string, unknown>;
    const entry = (await import("chevrotain")) as unknown as Record<string, unknown>;
    expect(Object.keys(bundle).sort()).toEqual(Object.keys(entry).sort());
    expect(bundle["VERSION"]).toBe(entry["VERSION"]);
  });
});

describe("the CST typings", () => {
  it("match the grammar (UPDATE_CST=1 regenerates dsl/cst.ts)", async () => {
    // The generator must be the parser's own copy of chevrotain: it tells grammar nodes apart by class.
    const { generateCstDts } = (await import(pathToFileURL(CHEVROTAIN_BUNDLE).href)) as typeof import("chevrotain");
    const path = join(import.meta.dirname, "../../dsl/cst.ts");
    const current = readFileSync(path, "utf8");
    const header = current.slice(0, current.indexOf("import type"));
    const generated = header + generateCstDts(lthParser.getGAstProductions()) + "\n";
    if (process.env["UPDATE_CST"]) writeFileSync(path, generated);
    expect(current).toBe(generated);
  });
});

describe("long chains", () => {
  const chain = (n: number) => `let a = x${" |> last()".repeat(n)}`;

  it("of up to 200 pipes parse", () => {
    expect(syntaxErrors(chain(200))).toEqual([]);
  });

  it("of more are refused at the first pipe past the limit", () => {
    expect(syntaxErrors(chain(201))).toEqual([`1:${"let a = x".length + 200 * " |> last()".length + 2}`]);
  });

  it("do not count list brackets as indexes", () => {
    expect(syntaxErrors(`let a = [${"[1], ".repeat(300)}]`)).toEqual([]);
  });
});
