// Names and strings from a `.lth` file are data wherever they land: a string literal or a
// comment in the generated TypeScript, escaped text in the HTML report and its SVG, and never
// part of a path lth writes. Each test feeds quotes, backticks, `${}`, `</script>`, `../`,
// `*/`, line terminators and backslashes through one of those ways out.

import { execa } from "execa";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve, sep } from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { codegen } from "../../compiler/codegen/script.js";
import { codegenCommand } from "../../compiler/commands/codegen.js";
import { checkProgram } from "../../dsl/check/index.js";
import type { CommandIO } from "../../dsl/commands/io.js";
import { reportCommand } from "../../runtime/commands/report.js";
import type { NetSummary } from "../../runtime/report/charts.js";
import { renderReport } from "../../runtime/report/report.js";
import { cli, parseRun } from "../runtime/rig.js";
import { withTest } from "../support/children.js";

/** Every kind of text that has broken out of a string, comment, tag or folder somewhere. */
const HOSTILE = `"q" 'a' \`b\` \${process.exit(1)} </script><script>alert(1)</script> ../../etc */ /* \u2028process.exit(1)\u2029// \nnext line \\ end`;

/** `s` as a `.lth` string literal (its escapes are \\", \\\\ and \\n; U+2028 may stand raw). */
const lthString = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;

const scratch: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "lth-injection-"));
  scratch.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** Every file below `dir`, as paths relative to it. */
function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join("/"))
    .sort();
}

describe("generated TypeScript (lth codegen)", () => {
  /**
   * A main file importing a library, whose strings are `text` and whose files are named
   * `libName` and `mainName` (file names reach the script's comments), as a script.
   */
  function generate(text: string, libName: string, mainName: string): { dir: string; script: string } {
    const dir = tempDir();
    writeFileSync(join(dir, libName), "let libnet = init(lenet_300_100(), synthetic(n: 40, features: 4, classes: 2))\n");
    const main = join(dir, mainName);
    writeFileSync(
      main,
      [
        `import ${lthString(`./${libName}`)}`,
        `let note = ${lthString(text)}`,
        `let d = idx(${lthString(text)}, ${lthString(`../data/${text}`)}, ${lthString(`/abs/${text}`)}, "t.idx")`,
        "let n = init(lenet_300_100(), d)",
        `report ${lthString(text)} { n, libnet }`,
        "",
      ].join("\n"),
    );
    const checked = checkProgram(main);
    if (!("ok" in checked) || !checked.ok) throw new Error(`${main} does not check: ${JSON.stringify(checked)}`);
    return { dir, script: codegen(checked.program, { out: join(dir, "main.ts") }) };
  }

  const LIB = `lib\nprocess.exit(2)\u2028"q"'a'\`\${x}\`\\.lth`;
  const MAIN = `main\u2029process.exit(3)\n.lth`;
  let generated: { hostile: ReturnType<typeof generate>; benign: ReturnType<typeof generate> } | undefined;
  /** Generated once, on first use: a generator that throws fails the tests, not their collection. */
  const scripts = () => (generated ??= { hostile: generate(HOSTILE, LIB, MAIN), benign: generate("plain text", "lib.lth", "main.lth") });

  const parse = (script: string) => ts.createSourceFile("script.ts", script, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  function walk(node: ts.Node, visit: (n: ts.Node) => void): void {
    visit(node);
    node.forEachChild((c) => walk(c, visit));
  }
  /** Every node's kind, in order: the script's shape, whatever its strings hold. */
  function shape(script: string): string[] {
    const kinds: string[] = [];
    walk(parse(script), (n) => kinds.push(ts.SyntaxKind[n.kind]));
    return kinds;
  }
  /** A stage name given to `ex.named(name, …)`: the binding's name, which the checker made an identifier. */
  const isStageName = (n: ts.Node) =>
    ts.isCallExpression(n.parent) && n.parent.arguments[0] === n && ts.isPropertyAccessExpression(n.parent.expression) && n.parent.expression.name.text === "named";
  const stringLiterals = (script: string, names = false): string[] => {
    const out: string[] = [];
    walk(parse(script), (n) => {
      if (ts.isStringLiteral(n) && isStageName(n) === names) out.push(n.text);
    });
    return out;
  };
  /** Every comment, as the parser sees them (leading and trailing trivia of every node). */
  function comments(script: string): { kind: ts.SyntaxKind; text: string }[] {
    const seen = new Map<number, { kind: ts.SyntaxKind; text: string }>();
    const add = (ranges: ts.CommentRange[] | undefined) => {
      for (const r of ranges ?? []) seen.set(r.pos, { kind: r.kind, text: script.slice(r.pos, r.end) });
    };
    walk(parse(script), (n) => {
      add(ts.getLeadingCommentRanges(script, n.getFullStart()));
      add(ts.getTrailingCommentRanges(script, n.getEnd()));
    });
    return [...seen.entries()].sort(([a], [b]) => a - b).map(([, c]) => c);
  }

  it("parses without a syntax error", () => {
    const { hostile, benign } = scripts();
    for (const { script } of [hostile, benign]) {
      const out = ts.transpileModule(script, { reportDiagnostics: true, compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
      expect(out.diagnostics?.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")) ?? []).toEqual([]);
    }
  });

  it("injects nothing: the same statements and the same syntax tree as a benign twin", () => {
    const { hostile, benign } = scripts();
    expect(parse(hostile.script).statements.length).toBe(parse(benign.script).statements.length);
    expect(shape(hostile.script)).toEqual(shape(benign.script));
    const identifiers = (script: string) => {
      const names = new Set<string>();
      walk(parse(script), (n) => {
        if (ts.isIdentifier(n)) names.add(n.text);
      });
      return names;
    };
    // The script's own names (its bindings, the API's, `process` for its exit status) are the
    // twin's; nothing a string held became one.
    expect([...identifiers(hostile.script)].sort()).toEqual([...identifiers(benign.script)].sort());
    for (const injected of ["exit", "alert", "x"]) expect(identifiers(hostile.script).has(injected)).toBe(false);
    // No raw line terminator is left to end a comment: the script's lines are the twin's.
    expect(hostile.script).not.toMatch(/[\u2028\u2029]/);
    expect(hostile.script.split("\n")).toHaveLength(benign.script.split("\n").length);
  });

  it("holds the hostile strings only as string literals that decode to what the file said", () => {
    const { hostile } = scripts();
    const literals = stringLiterals(hostile.script);
    // The import's module name, the `let note` string, and the idx paths.
    expect(literals).toHaveLength(1 + 1 + 4);
    // The stage names the script gives `ex.named` are the bindings' names, identifiers by the language's rules.
    expect(stringLiterals(hostile.script, true).sort()).toEqual(["d", "libnet", "n"]);
    expect(literals[0]).toBe("lth");
    expect(literals[1]).toBe(HOSTILE);
    // Paths are rewritten to hold from the script's folder: each names the very file the `.lth` meant.
    const [images, labels, testImages, testLabels] = literals.slice(2);
    const meant = (p: string) => resolve(hostile.dir, p);
    expect(meant(images!)).toBe(meant(HOSTILE));
    expect(meant(labels!)).toBe(meant(`../data/${HOSTILE}`));
    expect(testImages).toBe(resolve(`/abs/${HOSTILE}`));
    expect(testLabels).toBe("t.idx");
  });

  it("holds a report title and files' names in one-line comments that decode back", () => {
    const { hostile, benign } = scripts();
    const all = comments(hostile.script);
    expect(all.length).toBe(comments(benign.script).length);
    for (const c of all) {
      expect(c.kind).toBe(ts.SyntaxKind.SingleLineCommentTrivia);
      expect(c.text).not.toMatch(/[\n\r\u2028\u2029]/);
    }
    const report = all.map((c) => /^\/\/ report (".*") \{ n, libnet \}$/.exec(c.text)).find(Boolean);
    expect(JSON.parse(report![1]!)).toBe(HOSTILE);
    const cites = all.map((c) => /^\/\/ (".*"):(\d+)$/.exec(c.text)).filter((m) => m !== null);
    // One binding from the library; `note`, `d` and `n` from the main file.
    expect(cites.map((m) => JSON.parse(m[1]!) as string).sort()).toEqual([LIB, MAIN, MAIN, MAIN].sort());
    expect(all[0]!.text).toBe(`// Generated by \`lth codegen ${JSON.stringify(MAIN).replace("\u2029", "\\u2029")}\`: the same stages, with the same keys, as \`lth run ${JSON.stringify(MAIN).replace("\u2029", "\\u2029")}\`.`);
    // A plain name stays plain.
    expect(comments(benign.script).some((c) => c.text === "// main.lth:4")).toBe(true);
  });
});

describe("HTML report (lth report)", () => {
  const net = (name: string, series: string, remaining: number, earlybird = false): NetSummary => ({
    name,
    series,
    remaining,
    accuracy: 0.9,
    best: { accuracy: 0.95, step: 20 },
    history: [
      { step: 10, accuracy: 0.5 },
      { step: 20, accuracy: 0.9 },
    ],
    ...(earlybird ? { records: { earlybird: { epoch: 2, emerged: true, channelSparsity: 0.3, distances: [0.2, 0.1] } } } : {}),
  });
  /** A name for each net, every one hostile; a list's items are `name[i]`, as collectNets makes them. */
  const NAME = `n${HOSTILE} <svg onload=alert(1)> xmlns="http://evil"`;
  const sections = [
    { title: HOSTILE, nets: [net(NAME, NAME, 1, true), net(`L${NAME}[0]`, `L${NAME}`, 0.8), net(`L${NAME}[1]`, `L${NAME}`, 0.64)] },
    { title: `second ${HOSTILE}`, nets: [net(NAME, NAME, 1)] },
  ];

  const decode = (s: string) =>
    s.replace(/&(#\d+|#x[0-9a-f]+|lt|gt|amp|quot|apos);/gi, (_, e: string) => {
      const named: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
      if (e[0] !== "#") return named[e.toLowerCase()]!;
      return String.fromCodePoint(e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    });
  /** The tags that the page and its SVG figures are made of. */
  const TAGS = new Set(["!doctype", "html", "head", "meta", "title", "style", "body", "h1", "h2", "section", "figure", "svg", "g", "path", "rect", "line", "text", "table", "thead", "tbody", "tr", "th", "td", "pre"]);

  it("escapes titles, names and the file's name in text, attributes and the SVG", async () => {
    const html = await renderReport(`${HOSTILE}.lth`, sections);
    // The page has no script of its own, and none comes in.
    expect(html).not.toMatch(/<script/i);
    // Every `<` opens a well-formed tag of the page's own, whose attributes are the page's:
    // no event handler, no namespace (the page names no URL), and no value with a `<` in it.
    const tags = html.match(/<[^>]*>/g)!;
    expect(tags.join("").length + html.split(/<[^>]*>/).join("").length).toBe(html.length);
    expect(html.replace(/<[^>]*>/g, "")).not.toMatch(/[<>]/);
    for (const tag of tags) {
      const m = /^<(\/?)([!\w:-]+)((?:\s+[\w:-]+(?:="[^"<]*")?)*)\s*\/?>$/.exec(tag);
      expect(m, tag).not.toBeNull();
      expect(TAGS.has(m![2]!.toLowerCase()), tag).toBe(true);
      for (const [, attr] of m![3]!.matchAll(/\s+([\w:-]+)(?:="[^"]*")?/g)) expect(attr, tag).not.toMatch(/^(on|xmlns|href|src)/i);
    }
    // No text of the file is left raw where markup could start.
    for (const raw of ["</script>", "<script", "<svg onload"]) expect(html).not.toContain(raw);
    // Each title, the file's name and each table row decode back exactly.
    expect([...html.matchAll(/<h2>(.*?)<\/h2>/gs)].map((m) => decode(m[1]!))).toEqual([HOSTILE, `second ${HOSTILE}`]);
    expect(decode(/<h1>(.*?)<\/h1>/s.exec(html)![1]!)).toBe(`${HOSTILE}.lth`);
    expect(decode(/<title>(.*?)<\/title>/s.exec(html)![1]!)).toBe(`lth report: ${HOSTILE}.lth`);
    const rows = [...html.matchAll(/<tr><td>(.*?)<\/td>/gs)].map((m) => decode(m[1]!));
    // The nets, the net whose method records are listed (as show prints them, inside <pre>), then the values.
    expect(rows).toEqual([NAME, `L${NAME}[0]`, `L${NAME}[1]`, NAME, NAME]);
    for (const [, pre] of html.matchAll(/<pre>(.*?)<\/pre>/gs)) expect(pre).not.toMatch(/[<>]/);
    // Vega draws the names as legend text (cut short with an ellipsis) and in aria labels: escaped, and whole once decoded.
    const legend = [...html.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => decode(m[1]!)).filter((t) => t.startsWith("n\"q\"") || t.startsWith("L"));
    expect(legend.length).toBeGreaterThan(0);
    for (const t of legend) expect(NAME.startsWith(t.replace(/…$/, "")) || `L${NAME}`.startsWith(t.replace(/…$/, ""))).toBe(true);
    const labels = [...html.matchAll(/aria-label="([^"]*)"/g)].map((m) => decode(m[1]!));
    expect(labels.some((l) => l.includes(`L${NAME}[1]`))).toBe(true);
    // Three figures for the first section (it has an early bird), two for the second.
    expect(html.match(/<svg/g)).toHaveLength(5);
  });
});

describe("files lth writes", () => {
  it("land in the store and the -o target, or beside the pipeline, whatever its strings say", async () => {
    const root = tempDir();
    const work = join(root, "work");
    mkdirSync(work);
    // Reading above the pipeline's folder is allowed: imports and data paths are the user's to name.
    writeFileSync(join(root, "lib.lth"), "let data = synthetic(n: 40, features: 4, classes: 2, seed: 1)\n");
    const escape = `../../escape ${HOSTILE} /tmp/abs`;
    writeFileSync(
      join(work, "main.lth"),
      [
        'import "../lib.lth"',
        `let files = idx(${lthString(`../../${HOSTILE}`)}, ${lthString("/etc/passwd")}, ${lthString(escape)}, "t.idx")`,
        `let dense = train(init(mlp(hidden: [4]), data, seed: 1), data, 1 epoch)`,
        `report ${lthString(escape)} { dense }`,
        `report ${lthString(`/tmp/${HOSTILE}`)} { dense }`,
        "",
      ].join("\n"),
    );
    const before = filesBelow(root);
    const env = { ...process.env, LTH_STORE: undefined };
    const run = await withTest(execa(process.execPath, [cli, "run", "main.lth", "dense", "--json", "--jobs", "1"], { cwd: work, env, extendEnv: false, reject: false }));
    const result = parseRun(run.stdout, run.exitCode ?? -1, run.stderr);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.summary.ran).toBeGreaterThan(0);

    const said: string[] = [];
    const io: CommandIO = { out: (t) => void said.push(t), err: (t) => void said.push(t), cwd: work };
    const previous = process.env["LTH_STORE"];
    delete process.env["LTH_STORE"];
    try {
      expect(await reportCommand("main.lth", {}, io)).toBe(0);
      expect(await reportCommand("main.lth", { format: "svg" }, io)).toBe(0);
      expect(codegenCommand("main.lth", {}, io)).toBe(0);
      expect(codegenCommand("main.lth", { out: "../elsewhere.ts" }, io)).toBe(0);
    } finally {
      if (previous !== undefined) process.env["LTH_STORE"] = previous;
    }

    const after = filesBelow(root);
    const made = after.filter((f) => !before.includes(f));
    const outputs = ["work/main.html", "work/main.svg", "work/main.ts", "elsewhere.ts"];
    expect(made.filter((f) => !f.startsWith("work/.lth/") && !outputs.includes(f))).toEqual([]);
    expect(made).toEqual(expect.arrayContaining(outputs));
    // The store's files are named by hashes: no title or path string of the file shows in any name.
    for (const f of made) expect(f).not.toMatch(/escape|script|etc|abs|passwd|process|"/);
    expect(readdirSync(join(root, "..")).filter((n) => n.startsWith("escape"))).toEqual([]);
    // And the titles reached the page as text.
    const html = readFileSync(join(work, "main.html"), "utf8");
    expect(html).toContain("../../escape &#34;q&#34;");
    expect(html).not.toMatch(/<script/i);
  });
});
