// `lth fmt`: canonical, idempotent, keeps every comment, never changes meaning.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkProgram, memoryHost, ModuleLoader } from "../../dsl/check/index.js";
import { formatText } from "../../dsl/commands/fmt.js";
import { parseText } from "../../dsl/parse.js";

const repo = join(import.meta.dirname, "../..");
const fixtures = join(repo, "tests/fixtures");

function lthFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".lth"))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Files that parse: every pipeline and fixture without a syntax error. */
const corpus = [...lthFiles(join(repo, "pipelines")), ...lthFiles(fixtures)].filter(
  (path) => parseText(path, readFileSync(path, "utf8")).diagnostics.length === 0,
);

function format(path: string, text: string): string {
  const result = formatText(path, text);
  if ("errors" in result) throw new Error(`${path} has syntax errors`);
  return result.text;
}

/** The AST without source ranges or comments: what the program means. */
function meaning(path: string, text: string): unknown {
  const { ast } = parseText(path, text);
  return JSON.parse(JSON.stringify(ast.items, (key, value) => (key === "range" || key === "yieldRange" ? undefined : value)));
}

function commentTexts(path: string, text: string): string[] {
  return parseText(path, text)
    .ast.comments.map((c) => c.text.replace(/\s+/g, " ").trim())
    .sort();
}

function diagnosticCodes(path: string, text: string): string[] {
  const result = checkProgram(path, new ModuleLoader(memoryHost({ [path]: text })));
  if ("problem" in result) throw new Error(result.problem);
  return result.diagnostics.map((d) => `${d.code}: ${d.message}`);
}

describe("formatting every pipeline and fixture", () => {
  it("covers a real corpus", () => {
    expect(corpus.length).toBeGreaterThan(60);
  });

  it.each(corpus)("%s", (path) => {
    const original = readFileSync(path, "utf8");
    const once = format(path, original);
    expect(format(path, once), "idempotent").toBe(once);
    expect(meaning(path, once), "same program").toEqual(meaning(path, original));
    expect(commentTexts(path, once), "same comments").toEqual(commentTexts(path, original));
    // Checked on its own (imports aside), the formatted text reports the same problems.
    expect(diagnosticCodes(path, once)).toEqual(diagnosticCodes(path, original));
  });
});

describe("canonical form", () => {
  it("the shipped pipelines are already formatted", () => {
    for (const path of lthFiles(join(repo, "pipelines"))) {
      const text = readFileSync(path, "utf8");
      expect(format(path, text), path).toBe(text);
    }
  });

  it("puts every comment of the torture file back beside its neighbour", () => {
    const path = join(fixtures, "format/comments.lth");
    expect(format(path, readFileSync(path, "utf8"))).toBe(`// A file whose comments sit everywhere a comment can: the formatter must keep each one.

/* a block
   comment over two lines */
import "../valid/shared/data.lth" // trailing an import

defaults train {
  lr: 1.2e-3, // why this rate
  batch: 60,
  /* inline */ optimizer: adam,
}

resources train {
  cpus: 4, // per job
  mem: 16 GB,
  /* on the cluster */ time: 2 h,
}

let net0 = init(
  // after a paren
  lenet_300_100(),
  data,
  /* before a named argument */ seed: 7,
  // dangling before the close
)
let dense = train(net0, data, 2 epochs) // spacing is canonical

let rounds = repeat 2 from dense as t {
  // first in a block
  let pruned = prune(t, 20%) // trailing a block let

  /* before yield */ yield train(rewind(pruned, to: net0), data, 1 epoch)
  // last in a block
}
let runs = replicate 3 as seed {
  // one run per seed
  /* per replicate */ let start = init(lenet_300_100(), data, seed: seed)
  yield train(start, data, 1 epoch, seed: seed) // trailing its yield
}
let control = last(rounds) // step zero
  |> reinit(seed: 99) // step one
  |> train(data, 1 epoch)
let rates = [
  10%,
  /* middle */ 20%,
  30%, // end of a list line
]
let x = prune(dense, /* inside an argument */ 20%)
/* odd place */
let y = -1
report "r" {
  dense, // the dense net
  rounds,
  control,
}
// the end
`);
  });

  it("breaks a call that does not fit in 80 columns, one argument a line", () => {
    const text = "let t = train(net0, data, 5 epochs, lr: 0.001, batch: 128, optimizer: adam, schedule: cosine)\n";
    expect(format("/t.lth", text)).toBe(`let t = train(
  net0,
  data,
  5 epochs,
  lr: 0.001,
  batch: 128,
  optimizer: adam,
  schedule: cosine,
)
`);
  });

  it("writes units in their canonical spelling and spacing", () => {
    expect(format("/t.lth", "let q = [1 epochs, 2epoch, 1  step, 20%]\n")).toBe("let q = [1 epoch, 2 epochs, 1 step, 20%]\n");
  });

  it("keeps at most one blank line between items", () => {
    expect(format("/t.lth", "let a = 1\n\n\n\nlet b = 2\nlet c = 3\n")).toBe("let a = 1\n\nlet b = 2\nlet c = 3\n");
  });

  it.each([
    // A comment inside an expression moves above its line, keeping the blank line above it.
    ["let control = rounds[-1 /* the final ticket */]\n  |> reinit(seed: 99)\n", "/* the final ticket */\nlet control = rounds[-1] |> reinit(seed: 99)\n"],
    ["let x = f(k: x[/* c */ 0] |> g())\n", "/* c */\nlet x = f(k: x[0] |> g())\n"],
    ["let a = 1\n\nlet b = x[/* c */ 0]\n", "let a = 1\n\n/* c */\nlet b = x[0]\n"],
    ["defaults train { lr: /* c */ 0.1 }\n", "/* c */\ndefaults train { lr: 0.1 }\n"],
    // A comment after a pipe step keeps the step's line break.
    ["let dense = net0 /* dense */\n  |> train(data, 5 epochs)\n", "let dense = net0 /* dense */\n  |> train(data, 5 epochs)\n"],
    ["let y = x |> f() /* c */\n|> g()\n", "let y = x\n  |> f() /* c */\n  |> g()\n"],
    ["let r = repeat 2 from net0 as t {\n  yield // c\n\n  t\n}\n", "let r = repeat 2 from net0 as t {\n  // c\n  yield t\n}\n"],
  ])("places the comment in %j where it stays on the next run", (input, expected) => {
    expect(format("/t.lth", input)).toBe(expected);
    expect(format("/t.lth", expected)).toBe(expected);
  });

  it("refuses a file with syntax errors", () => {
    const result = formatText("/t.lth", "let a = f(\n");
    expect("errors" in result && result.errors.map((d) => d.code)).toEqual(["syntax"]);
  });
});

describe("line separators inside strings and comments", () => {
  it("keep the spaces beside them: U+2028 and U+2029 do not end a line for fmt", () => {
    for (const sep of ["\u2028", "\u2029"]) {
      const text = `let note = " ${sep} a"\nlet b = 1 /* x ${sep} y */\n`;
      const out = formatText("/p/main.lth", text);
      if ("errors" in out) throw new Error("does not parse");
      expect(out.text).toBe(text);
    }
  });
});
