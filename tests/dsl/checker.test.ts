// The checker's rules, stated as LANGUAGE.md states them, on in-memory files.

import { describe, expect, it } from "vitest";
import type * as A from "../../dsl/ast.js";
import { CIFAR10_FILES } from "../../dsl/check/data-files.js";
import { checkProgram, memoryHost, ModuleLoader, type CheckedProgram, type DataEntry, type DataFileHost } from "../../dsl/check/index.js";
import { renderDiagnostic, sortDiagnostics } from "../../dsl/diagnostics.js";
import { showType } from "../../dsl/types.js";
import { cifarFiles } from "../../runtime/data/cifar10.js";

const PRELUDE = `let data = mnist(train: 1000, test: 500)
let net0 = init(lenet_300_100(), data, seed: 7)
`;

/** `code@line:column` for each diagnostic of /p/main.lth (plus any other files given). */
function codes(main: string, others: Record<string, string> = {}): string[] {
  const files = { "/p/main.lth": main, ...Object.fromEntries(Object.entries(others).map(([k, v]) => [`/p/${k}`, v])) };
  const result = checkProgram("/p/main.lth", new ModuleLoader(memoryHost(files)));
  if ("problem" in result) throw new Error(result.problem);
  return result.diagnostics.map((d) => {
    const r = renderDiagnostic(d, "/p");
    return `${r.code}@${r.file === "main.lth" ? "" : `${r.file}:`}${r.line}:${r.column}`;
  });
}

function program(main: string, others: Record<string, string> = {}): CheckedProgram {
  const files = { "/p/main.lth": main, ...Object.fromEntries(Object.entries(others).map(([k, v]) => [`/p/${k}`, v])) };
  const result = checkProgram("/p/main.lth", new ModuleLoader(memoryHost(files)));
  if ("problem" in result || !result.ok) throw new Error(JSON.stringify("problem" in result ? result : result.diagnostics.map((d) => d.message)));
  return result.program;
}

/** The type the checker gave a top-level binding. */
function typeOf(p: CheckedProgram, name: string): string {
  const binding = p.scope.get(name);
  if (binding?.kind !== "let") throw new Error(`no let ${name}`);
  return showType(p.info.get(binding.node.value)!.type);
}

function callOf(p: CheckedProgram, name: string): A.CallExpr {
  const binding = p.scope.get(name);
  if (binding?.kind !== "let") throw new Error(`no let ${name}`);
  const value = binding.node.value;
  if (value.kind === "Call") return value;
  if (value.kind === "Pipe") return value.call;
  throw new Error(`${name} is not a call`);
}

describe("names", () => {
  it("resolve independently of line order", () => {
    expect(codes(`let dense = train(net0, data, 1 epoch)\n${PRELUDE}`)).toEqual([]);
  });

  it("inside a block are local to it, and may hide an outer name", () => {
    const text = `${PRELUDE}let pruned = prune(net0, 10%)
let r = repeat 2 from net0 as t {
  let pruned = prune(t, 20%)
  yield pruned
}
let outer = train(pruned, data, 1 epoch)
`;
    expect(codes(text)).toEqual([]);
  });

  it("inside a block may be used above their line", () => {
    const text = `${PRELUDE}let r = repeat 2 from net0 as t {
  yield trained
  let trained = train(pruned, data, 1 epoch)
  let pruned = prune(t, 20%)
}
`;
    // `yield` closes a block, so the lets must come first; the order among them is free.
    expect(codes(text)).toEqual(["syntax@5:3"]);
    const reordered = `${PRELUDE}let r = repeat 2 from net0 as t {
  let trained = train(pruned, data, 1 epoch)
  let pruned = prune(t, 20%)
  yield trained
}
`;
    expect(codes(reordered)).toEqual([]);
  });

  it("read as enum values where the parameter is an enum, even when a binding has the name", () => {
    const text = `${PRELUDE}let global = prune(net0, 50%)
let p = prune(net0, 20%, scope: global)
`;
    const p = program(text);
    const call = callOf(p, "p");
    const scope = call.args[2]!.value as A.NameExpr;
    expect(p.resolution.enumArgs.get(scope)).toBe("global");
    expect(p.resolution.refs.has(scope)).toBe(false);
  });

  it("that only an enum value could be, are not a cycle", () => {
    expect(codes(`${PRELUDE}let random = prune(net0, 20%, criterion: random)\n`)).toEqual([]);
  });
});

describe("cycles", () => {
  it("are reported once, at the first binding of the cycle, with the whole cycle", () => {
    const text = `let data = mnist()
let c = train(a, data, 1 epoch)
let b = prune(c, 20%)
let a = rewind(b, to: b)
`;
    const files = { "/p/main.lth": text };
    const result = checkProgram("/p/main.lth", new ModuleLoader(memoryHost(files)));
    if ("problem" in result) throw new Error();
    expect(result.diagnostics.map((d) => [d.code, d.message])).toEqual([["cycle", "'c' depends on itself: c → a → b → c"]]);
  });

  it("through a defaults block count", () => {
    const text = `let data = mnist()
defaults train { data: d }
let d = train(net, length: 1 epoch)
let net = init(lenet_300_100(), data)
`;
    expect(codes(text)).toEqual(["cycle@3:5"]);
  });

  it("do not come from a long chain, however long", () => {
    const lines = ["let n0 = mnist()"];
    for (let i = 1; i <= 3000; i++) lines.push(`let n${i} = n${i - 1}`);
    expect(codes(lines.reverse().join("\n"))).toEqual([]);
  });
});

describe("types", () => {
  it("of a repeat is a list of its yields; of last, the element", () => {
    const p = program(`${PRELUDE}let rounds = repeat 3 from net0 as t {
  yield prune(t, 20%)
}
let ticket = last(rounds)
let scores = for n in rounds {
  yield evaluate(n, data)
}
let gaps = [mask_distance(ticket, net0), 0.5, 1]
`);
    expect(typeOf(p, "rounds")).toBe("List<Net>");
    expect(typeOf(p, "ticket")).toBe("Net");
    expect(typeOf(p, "scores")).toBe("List<Metrics>");
    expect(typeOf(p, "gaps")).toBe("List<Number>");
  });

  it("an Int fits a Number, not the reverse", () => {
    expect(codes(`${PRELUDE}let t = train(net0, data, 1 epoch, lr: 1)\n`)).toEqual([]);
    expect(codes(`${PRELUDE}let t = train(net0, data, 1 epoch, batch: 60.0)\n`)).toEqual(["type-mismatch@3:43"]);
  });

  it("a Number is neither a Percent nor a Duration", () => {
    expect(codes(`${PRELUDE}let p = prune(net0, 0.2)\n`)).toEqual(["type-mismatch@3:21"]);
    expect(codes(`${PRELUDE}let t = train(net0, data, 20%)\n`)).toEqual(["type-mismatch@3:27"]);
  });

  it("a wrong argument does not make the call's result wrong too", () => {
    expect(codes(`${PRELUDE}let p = prune(net0, 0.2)\nlet t = train(p, data, 1 epoch)\nlet e = evaluate(t, data)\n`)).toEqual(["type-mismatch@3:21"]);
  });
});

describe("arguments", () => {
  it("a pipe passes its left side as the first argument", () => {
    const p = program(`${PRELUDE}let c = net0 |> reinit(seed: 99) |> train(data, 2 epochs)\n`);
    const call = callOf(p, "c");
    const resolved = p.resolution.calls.get(call)!;
    const net = resolved.args.get("net")!;
    expect(net.kind === "arg" && net.value.kind).toBe("Pipe");
    expect(typeOf(p, "c")).toBe("Net");
  });

  it("a call's argument wins over the file's defaults, which win over the op's", () => {
    const p = program(`${PRELUDE}defaults train { lr: 1.2e-3, batch: 32 }
let a = train(net0, data, 1 epoch, lr: 0.5)
`);
    const args = p.resolution.calls.get(callOf(p, "a"))!.args;
    expect(args.get("lr")?.kind).toBe("arg");
    expect(args.get("batch")?.kind).toBe("defaults");
    expect(args.get("optimizer")).toEqual({ kind: "default", value: { kind: "Enum", value: "sgd" } });
  });

  it("a defaults block can supply a required argument", () => {
    expect(codes(`${PRELUDE}defaults reinit { seed: 5 }\nlet r = reinit(net0)\n`)).toEqual([]);
  });

  it("a default that names another parameter takes its value (output_rate = rate)", () => {
    const p = program(`${PRELUDE}let p = prune(net0, 20%)\n`);
    expect(p.resolution.calls.get(callOf(p, "p"))!.args.get("output_rate")).toEqual({ kind: "default", value: { kind: "Param", name: "rate" } });
  });

  it("the cross-parameter rule sees defaults (train 9000 + default test 2000)", () => {
    expect(codes(`let data = mnist(train: 9000)\n`)).toEqual(["out-of-range@1:25"]);
    expect(codes(`defaults mnist { test: 2000 }\nlet data = mnist(train: 9000)\n`)).toEqual(["out-of-range@2:25"]);
  });
});

describe("imports", () => {
  it("make the imported file's bindings visible", () => {
    expect(codes(`import "common.lth"\nlet dense = train(net0, data, 1 epoch)\n`, { "common.lth": PRELUDE })).toEqual([]);
  });

  it("are transitive: what an imported file sees, its importer sees", () => {
    const others = { "a.lth": `import "b.lth"\nlet net0 = init(lenet_300_100(), data)\n`, "b.lth": `let data = mnist()\n` };
    expect(codes(`import "a.lth"\nlet dense = train(net0, data, 1 epoch)\n`, others)).toEqual([]);
  });

  it("that bind one name to two different bindings clash, however deep", () => {
    const others = { "a.lth": `import "b.lth"\nlet net0 = init(lenet_300_100(), data)\n`, "b.lth": `let data = mnist()\n`, "c.lth": `let data = mnist(seed: 1)\n` };
    expect(codes(`import "a.lth"\nimport "c.lth"\nlet n = net0\n`, others)).toEqual(["duplicate-binding@2:8"]);
    expect(codes(`import "a.lth"\nlet data = mnist()\n`, others)).toEqual(["duplicate-binding@2:5"]);
  });

  it("bind a file reached twice (a diamond) once", () => {
    const others = {
      "a.lth": `import "common.lth"\nlet x = prune(net0, 10%)\n`,
      "b.lth": `import "common.lth"\nlet y = prune(net0, 20%)\n`,
      "common.lth": PRELUDE,
    };
    expect(codes(`import "a.lth"\nimport "b.lth"\nimport "common.lth"\nlet z = mask_distance(x, y)\n`, others)).toEqual([]);
    // `data` reaches main through both a.lth and b.lth: one binding, no clash.
    expect(codes(`import "a.lth"\nimport "b.lth"\nlet z = train(x, data, 1 epoch)\n`, others)).toEqual([]);
  });

  it("resolve relative to the importing file", () => {
    const others = { "lib/a.lth": `import "../shared/b.lth"\nlet net0 = init(lenet_300_100(), data)\n`, "shared/b.lth": `let data = mnist()\n` };
    expect(codes(`import "lib/a.lth"\nlet n = net0\n`, others)).toEqual([]);
  });

  it("report errors inside an imported file under that file's name", () => {
    expect(codes(`import "common.lth"\n`, { "common.lth": `let data = mnst()\n` })).toEqual(["unknown-op@common.lth:1:12"]);
  });

  it("with a syntax error stop the other checks of every file", () => {
    expect(codes(`import "common.lth"\nlet x = undefined_thing\n`, { "common.lth": `let data = mnist(\n` })).toEqual(["syntax@common.lth:1:18"]);
  });

  it("that are missing do not make the names they would bind undefined", () => {
    expect(codes(`import "common.lth"\nlet dense = train(net0, data, 1 epoch)\n`)).toEqual(["import-not-found@1:8"]);
  });
});

describe("lists", () => {
  it("a for over a literal list has that list's length", () => {
    const text = `${PRELUDE}let sweep = for r in [10%, 20%] {
  yield prune(net0, r)
}
let a = sweep[1]
let b = sweep[2]
`;
    expect(codes(text)).toEqual(["out-of-range@7:15"]);
  });

  it("a for item's value is checked where it is used", () => {
    const text = `${PRELUDE}let sweep = for r in [0.1, 0.2] {
  yield prune(net0, r)
}
`;
    expect(codes(text)).toEqual(["type-mismatch@4:21"]);
  });

  it("an index reads a value the text fixes", () => {
    expect(codes(`${PRELUDE}let rates = [20%, 150%]\n`)).toEqual(["out-of-range@3:19"]);
    expect(codes(`${PRELUDE}let sizes = [300, 100]\nlet arch = mlp([sizes[0], 0])\n`)).toEqual(["out-of-range@4:27"]);
  });
});

describe("a failed import nested in another", () => {
  it("does not make the names it would have passed through undefined", () => {
    const others = { "lib/a.lth": `import "b.lth"\nlet net0 = init(lenet_300_100(), data)\n`, "b.lth": `let data = mnist()\n` };
    expect(codes(`import "lib/a.lth"\nlet dense = train(net0, data, 1 epoch)\n`, others)).toEqual(["import-not-found@lib/a.lth:1:8"]);
  });
});

describe("a file with a syntax error", () => {
  it("reports syntax errors only, import problems included", () => {
    expect(codes(`import "missing.lth"\nlet a = (\n`)).toEqual(["syntax@2:10"]);
  });
});

describe("an import cycle reached from two files checked together", () => {
  it("is one problem, reported once", () => {
    const host = memoryHost({ "/p/b.lth": `import "c.lth"\nlet x = mnist()\n`, "/p/c.lth": `import "b.lth"\nlet y = mnist()\n` });
    const loader = new ModuleLoader(host);
    const all = ["/p/b.lth", "/p/c.lth"].flatMap((path) => {
      const result = checkProgram(path, loader);
      return "problem" in result ? [] : result.diagnostics;
    });
    // As `lth check b.lth c.lth` prints them: merged, each once.
    expect(sortDiagnostics(all).map((d) => `${d.code}@${d.file.path}`)).toEqual(["import-cycle@/p/b.lth"]);
  });
});

describe("optional parameters (the pruning testbed)", () => {
  const messages = (main: string) => {
    const result = checkProgram("/p/main.lth", new ModuleLoader(memoryHost({ "/p/main.lth": main })));
    if ("problem" in result) throw new Error(result.problem);
    return result.diagnostics.map((d) => d.message);
  };

  it("prune's data may be left out for magnitude, random and synflow, and given for any criterion", () => {
    for (const criterion of ["magnitude", "random", "synflow"]) expect(codes(`${PRELUDE}let p = prune(net0, 90%, criterion: ${criterion})\n`)).toEqual([]);
    for (const criterion of ["magnitude", "snip", "grasp", "synflow"]) expect(codes(`${PRELUDE}let p = prune(net0, 90%, criterion: ${criterion}, data: data)\n`)).toEqual([]);
  });

  it("is a missing-arg at the op when snip or grasp has no data, from the call or from defaults", () => {
    expect(codes(`${PRELUDE}let p = prune(net0, 90%, criterion: snip)\n`)).toEqual(["missing-arg@3:9"]);
    expect(messages(`${PRELUDE}let p = prune(net0, 90%, criterion: grasp)\n`)).toEqual(["'prune' needs an argument for 'data' when criterion is grasp"]);
    expect(codes(`${PRELUDE}defaults prune { criterion: snip }\nlet p = prune(net0, 50%)\n`)).toEqual(["missing-arg@4:9"]);
    expect(codes(`${PRELUDE}defaults prune { criterion: snip, data: data }\nlet p = prune(net0, 50%)\n`)).toEqual([]);
  });

  it("must still have its type: data must be a Dataset", () => {
    expect(codes(`${PRELUDE}let p = prune(net0, 90%, criterion: snip, data: net0)\n`)).toEqual(["type-mismatch@3:49"]);
  });

  it("gmp's end and every may be left out; train's start and stop default to the whole schedule", () => {
    expect(codes(`${PRELUDE}let g = gmp(net0, data, 3 epochs, final: 90%)\nlet h = gmp(net0, data, 3 epochs, 90%, 0 steps, 2 epochs, 10 steps)\n`)).toEqual([]);
    expect(codes(`${PRELUDE}let d = dpf(net0, data, 3 epochs, 90%, 32 steps)\nlet t = train(net0, data, 10 epochs, start: 500 steps, stop: 2 epochs)\n`)).toEqual([]);
    expect(codes(`${PRELUDE}let g = gmp(net0, data, 3 epochs, final: 100%)\n`)).toEqual(["out-of-range@3:42"]);
  });
});

describe("data files (what `lth check` looks for on disk)", () => {
  /** A data host over a set of absolute paths: folders end in "/"; `unreadable` maps a path to why. */
  function dataHost(entries: readonly string[], unreadable: Record<string, string> = {}): DataFileHost {
    const files = new Set(entries.filter((e) => !e.endsWith("/")));
    const folders = new Set(entries.filter((e) => e.endsWith("/")).map((e) => e.slice(0, -1)));
    return {
      probe(path): DataEntry {
        if (unreadable[path]) return { kind: "unreadable", why: unreadable[path] };
        return files.has(path) ? { kind: "file" } : folders.has(path) ? { kind: "folder" } : { kind: "missing" };
      },
    };
  }

  /** `code@line:column message` of each diagnostic, with the data files in `data`. */
  function check(main: string, data: DataFileHost | undefined, others: Record<string, string> = {}): string[] {
    const files = { "/p/main.lth": main, ...Object.fromEntries(Object.entries(others).map(([k, v]) => [`/p/${k}`, v])) };
    const result = checkProgram("/p/main.lth", new ModuleLoader(memoryHost(files)), data ? { dataFiles: data } : {});
    if ("problem" in result) throw new Error(result.problem);
    return result.diagnostics.map((d) => {
      const r = renderDiagnostic(d, "/p");
      return `${r.code}@${r.file === "main.lth" ? "" : `${r.file}:`}${r.line}:${r.column} ${r.message}`;
    });
  }

  const FOUR = ["/p/a.idx", "/p/b.idx", "/p/c.idx", "/p/d.idx"];

  it("reports a missing idx file at its argument, naming it, and stops the program from checking", () => {
    const text = `let d = idx("a.idx", "b.idx", "c.idx", "e.idx")\n`;
    expect(check(text, dataHost(FOUR))).toEqual([`data-not-found@1:40 'test_labels': "e.idx" does not exist (a relative path is read from the folder of "main.lth")`]);
    const result = checkProgram("/p/main.lth", new ModuleLoader(memoryHost({ "/p/main.lth": text })), { dataFiles: dataHost(FOUR) });
    expect("ok" in result && result.ok).toBe(false);
  });

  it("passes when every file is there, and does not look without a data host (compile, codegen, plan elsewhere)", () => {
    expect(check(`let d = idx("a.idx", "b.idx", "c.idx", "d.idx")\n`, dataHost(FOUR))).toEqual([]);
    expect(check(`let d = idx("x", "y", "z", "w")\n`, undefined)).toEqual([]);
  });

  it("suggests x.gz for a missing x, and x for a missing x.gz, spelt as the text spells the path", () => {
    const host = dataHost(["/p/data/train.gz", "/p/data/labels", "/p/c.idx", "/p/d.idx"]);
    expect(check(`let d = idx("data/train", "./data/labels.gz", "c.idx", "d.idx")\n`, host)).toEqual([
      `data-not-found@1:13 'images': "data/train" does not exist (a relative path is read from the folder of "main.lth"); did you mean "data/train.gz"?`,
      `data-not-found@1:27 'labels': "./data/labels.gz" does not exist (a relative path is read from the folder of "main.lth"); did you mean "./data/labels"?`,
    ]);
    // An absolute path is named as written, with no word on relative paths.
    expect(check(`let d = idx("/data/train", "/p/c.idx", "/p/c.idx", "/p/d.idx")\n`, dataHost(["/data/train.gz", "/p/c.idx", "/p/d.idx"]))).toEqual([
      `data-not-found@1:13 'images': "/data/train" does not exist; did you mean "/data/train.gz"?`,
    ]);
  });

  it("resolves a path against the folder of the file whose call names it, imported or not", () => {
    const lib = { "lib/data.lth": `let shared = idx("a.idx", "b.idx", "c.idx", "d.idx")\n` };
    const inLib = dataHost(["/p/lib/a.idx", "/p/lib/b.idx", "/p/lib/c.idx", "/p/lib/d.idx"]);
    expect(check(`import "lib/data.lth"\nlet n = init(lenet_300_100(), shared)\n`, inLib, lib)).toEqual([]);
    expect(check(`import "lib/data.lth"\nlet n = init(lenet_300_100(), shared)\n`, dataHost(FOUR), lib).map((d) => d.split(" ")[0])).toEqual([
      "data-not-found@lib/data.lth:1:18",
      "data-not-found@lib/data.lth:1:27",
      "data-not-found@lib/data.lth:1:36",
      "data-not-found@lib/data.lth:1:45",
    ]);
  });

  it("reports a path given by `defaults` at the entry, and one given through a binding at the argument", () => {
    const text = `defaults idx { test_labels: "gone.idx" }\nlet d = idx("a.idx", "b.idx", "c.idx")\n`;
    expect(check(text, dataHost(FOUR)).map((d) => d.split(" ")[0])).toEqual(["data-not-found@1:29"]);
    const bound = `let path = "gone.idx"\nlet d = idx(path, "b.idx", "c.idx", "d.idx")\n`;
    expect(check(bound, dataHost(FOUR))).toEqual([`data-not-found@2:13 'images': "gone.idx" does not exist (a relative path is read from the folder of "main.lth")`]);
  });

  it("says why a file cannot be read, and when a folder stands where a file is read", () => {
    const host = dataHost(["/p/a.idx", "/p/b.idx/", "/p/c.idx", "/p/d.idx"], { "/p/a.idx": "permission denied" });
    expect(check(`let d = idx("a.idx", "b.idx", "c.idx", "d.idx")\n`, host)).toEqual([
      `data-not-found@1:13 'images': cannot read "a.idx": permission denied`,
      `data-not-found@1:22 'labels': "b.idx" is a folder; 'idx' reads a file here`,
    ]);
    expect(check(`let d = idx("", "b.idx", "c.idx", "d.idx")\n`, dataHost(FOUR))).toEqual([`data-not-found@1:13 'images': the path is empty`]);
  });

  it("wants cifar10's folder with the six batch files that the runtime reads", () => {
    const batches = cifarFiles("/p/cifar");
    expect(batches.map((f) => f.slice("/p/cifar/".length))).toEqual([...CIFAR10_FILES]);
    expect(check(`let c = cifar10("cifar")\n`, dataHost(["/p/cifar/", ...batches]))).toEqual([]);
    expect(check(`let c = cifar10("cifar")\n`, dataHost(["/p/cifar/", ...batches.slice(1)]))).toEqual([
      `data-not-found@1:17 'dir': "cifar" does not hold data_batch_1.bin (CIFAR-10's binary version: data_batch_1.bin to data_batch_5.bin and test_batch.bin)`,
    ]);
    expect(check(`let c = cifar10("cifar")\n`, dataHost(["/p/cifar-10-binary.tar.gz"]))[0]).toContain(`; "cifar-10-binary.tar.gz" is beside it: extract it first`);
    expect(check(`let c = cifar10("cifar/test_batch.bin")\n`, dataHost(["/p/cifar/", ...batches]))[0]).toContain(`"cifar/test_batch.bin" is a file; 'cifar10' reads a folder`);
  });

  it("quotes a path with control characters as escapes, never raw", () => {
    const [message] = check(`let d = idx("a\\u{7f}b", "b.idx", "c.idx", "d.idx")\n`.replace("\\u{7f}", "\u007f"), dataHost(FOUR));
    expect(message).toContain(`"a\\u{7f}b" does not exist`);
    expect(message).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  });
});
