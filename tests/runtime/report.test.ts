// `lth report`: a self-contained page (inline SVG, nothing remote) per report block, which a
// real browser renders: headless Chromium opens it, and a screenshot is kept.

import { execa } from "execa";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { withTest } from "../support/children.js";
import { Rig, SMALL_IMP } from "./rig.js";
import { archWidth, renderReport } from "../../runtime/report/report.js";
import type { NetSummary } from "../../runtime/report/charts.js";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
const artifacts = join(import.meta.dirname, "../artifacts");

describe("lth report", () => {
  const PIPELINE = `${SMALL_IMP}
let bird = earlybird(init(vgg(depth: 11, width: 0.125), mnist(train: 120, test: 60), seed: 1), mnist(train: 120, test: 60), 30%, window: 2, max: 3 epochs)
report "IMP <small> & \\"quoted\\"" { dense, rounds, control, bird }
`;
  // One run of PIPELINE, made once; each test that reports works on its own copy of its store.
  let reference: Rig;
  beforeAll(async () => {
    reference = new Rig(PIPELINE);
    const r = await reference.run();
    expect(r.exitCode, r.stderr).toBe(0);
  });

  /** A rig of its own, its store a copy of the computed one, and its report page written. */
  async function reported(): Promise<{ rig: Rig; page: string }> {
    const rig = new Rig(PIPELINE).copyStore(reference);
    const page = join(rig.dir, "report.html");
    const r = await rig.lth(["report", rig.file, "-o", page]);
    expect(r.exitCode, r.stderr).toBe(0);
    return { rig, page };
  }

  it("is an error that says to run first, before the run", async () => {
    const rig = new Rig(PIPELINE);
    const r = await rig.lth(["report", rig.file, "-o", join(rig.dir, "report.html")]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/not computed yet: run `lth run .*` to compute it/);
  });

  it("draws accuracy against sparsity, accuracy over training, early-bird emergence and a table, with nothing remote", async () => {
    const { page } = await reported();
    const html = readFileSync(page, "utf8");
    // Accuracy against weights, over training, weights per layer (the pruned nets), early-bird emergence.
    expect(html.match(/<svg/g)).toHaveLength(4);
    expect(html).toContain("Test accuracy against weights remaining");
    expect(html).toContain("Early-bird channel masks");
    expect(html).toContain("Weights remaining per layer");
    // dense, three rounds, the control and the bird; then what the methods recorded (the bird's
    // emergence, as show prints it); the provenance table follows.
    const [nets, records] = html.split("<details")[0]!.split('<table class="records">') as [string, string];
    expect(nets.match(/<tr><td>/g)).toHaveLength(6);
    expect(records.match(/<tr><td>/g)).toHaveLength(1);
    expect(records).toMatch(/<tr><td>bird<\/td><td><pre>early bird: /);
    expect(html).toContain("IMP &#60;small&#62; &#38; &#34;quoted&#34;");
    expect(html).not.toMatch(/https?:|<script|<link|@import|src=/);
  });

  it("writes the accuracy-against-weights figure alone as a standalone SVG with --format svg", async () => {
    const rig = new Rig(PIPELINE).copyStore(reference);
    const figure = join(rig.dir, "figure.svg");
    const r = await rig.lth(["report", rig.file, "--format", "svg", "-o", figure]);
    expect(r.exitCode).toBe(0);
    const svg = readFileSync(figure, "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg).toContain("weights remaining (%)");
  });

  it.skipIf(!CHROMIUM)("renders in headless Chromium: every chart has marks, and a screenshot is kept", async () => {
    const { rig, page } = await reported();
    mkdirSync(artifacts, { recursive: true });
    const shot = join(artifacts, "report.png");
    const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", `--user-data-dir=${join(rig.dir, "chromium")}`];
    // No time limit of its own: a browser that hangs is killed with the test, at the suite's limit.
    const dom = await withTest(execa(CHROMIUM!, [...flags, "--enable-logging=stderr", "--v=0", "--dump-dom", `file://${page}`], { reject: false }));
    expect(dom.exitCode).toBe(0);
    const svgs = dom.stdout.split("<svg").slice(1);
    expect(svgs).toHaveLength(4);
    for (const svg of svgs) expect(svg.match(/<path/g)?.length ?? 0).toBeGreaterThan(5);
    expect(dom.stderr).not.toMatch(/CONSOLE.*(error|Uncaught)/i);
    const r = await withTest(execa(CHROMIUM!, [...flags, "--window-size=1200,1700", `--screenshot=${shot}`, `file://${page}`], { reject: false }));
    expect(r.exitCode).toBe(0);
    expect(statSync(shot).size).toBeGreaterThan(20_000);
  });
});

describe("a list of numbers in a report", () => {
  it("gets a figure of value by position, one line per list, beside its table", async () => {
    const rig = new Rig(`${SMALL_IMP}let distances = for r in rounds { yield mask_distance(r, net0) }\nreport "distances" { distances }\n`);
    const r = await rig.run();
    expect(r.exitCode, r.stderr).toBe(0);
    const out = join(rig.dir, "d.html");
    expect((await rig.lth(["report", rig.file, "-o", out])).exitCode).toBe(0);
    const html = readFileSync(out, "utf8");
    expect(html).toContain("Values by position in their list");
    expect(html.match(/<figure>/g)).toHaveLength(1);
    // Three points on one line: the rounds' distances, as the table lists them.
    expect(html).toContain("<td>distances[2]</td>");
    expect((html.match(/role-mark[^"]*symbol|aria-roledescription="point"/g) ?? []).length).toBeGreaterThanOrEqual(3);
  });
});

describe("provenance and sparsity per layer", () => {
  it("the page says which lth, which backend computed each stage, the parameters set and the files read with their digests, and draws each pruned net's layers", async () => {
    const rig = new Rig(SMALL_IMP);
    const r = await rig.run();
    expect(r.exitCode, r.stderr).toBe(0);
    const out = join(rig.dir, "p.html");
    expect((await rig.lth(["report", rig.file, "-o", out])).exitCode).toBe(0);
    const html = readFileSync(out, "utf8");
    const version = (JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8")) as { version: string }).version;
    expect(html).toContain(`<summary>Provenance: lth ${version}, `);
    // Every stage behind the results, with its backend as the run's events give it.
    for (const stage of r.stages) {
      const backend = stage.backend ?? "none (no tensors)";
      expect(html, stage.id).toMatch(new RegExp(`<tr><td>${stage.id.replace(/[[\].]/g, "\\$&")}</td><td>${stage.op}</td><td>${backend.replace(/[()]/g, "\\$&")}</td>`));
    }
    expect(html).toContain("lr: 0.01, batch: 50, optimizer: adam");
    expect(html).toContain("Weights remaining per layer");
  });
});

describe("a report of numbers alone", () => {
  it("is a table of the values, without empty figures", async () => {
    const html = await renderReport("p.lth", [{ title: "Instability", nets: [], values: [{ name: "at_init", value: "0.001000" }, { name: "xs[1]", value: "accuracy 91.00%, loss 0.3000" }] }]);
    expect(html).not.toContain("<svg");
    expect(html).toContain("<tr><td>at_init</td><td>0.001000</td></tr><tr><td>xs[1]</td><td>accuracy 91.00%, loss 0.3000</td></tr>");
  });
});

describe("test error against width", () => {
  const net = (name: string, series: string, width: number | undefined, accuracy: number): NetSummary => ({
    name,
    series,
    remaining: 1,
    accuracy,
    best: { accuracy, step: 10 },
    history: [{ step: 10, accuracy }],
    ...(width !== undefined ? { width } : {}),
  });
  const sweep = (series: string, widths: readonly number[]) => widths.map((w, i) => net(`${series}[${i}]`, series, w, 0.9 - 0.1 / w));

  it("is drawn for a section with a list of three widths or more, one line per list, with a width column", async () => {
    const html = await renderReport("dd.lth", [{ title: "Double descent", nets: [...sweep("plain", [2, 8, 32, 128]), ...sweep("augmented", [2, 8, 32, 128])] }]);
    expect(html.match(/<svg/g)).toHaveLength(3);
    expect(html).toContain("Test error against width");
    expect(html).toContain("test error (%)");
    // Both lists are lines of the figure's legend.
    const legend = [...html.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(legend).toEqual(expect.arrayContaining(["plain", "augmented"]));
    expect(html).toContain("<th>net</th><th>width</th>");
    expect(html).toContain("<tr><td>plain[3]</td><td>128</td>");
  });

  it("escapes list names in the figure as in the others", async () => {
    const hostile = `L</text><svg onload=alert(1)> "q" & 'a'`;
    const html = await renderReport("dd.lth", [{ title: "t", nets: sweep(hostile, [1, 2, 4]) }]);
    expect(html.match(/<svg/g)).toHaveLength(3);
    expect(html).not.toContain("<svg onload");
    expect(html).not.toContain("</text><svg");
    expect(html).toContain("L&#60;/text&#62;&#60;svg onload=alert(1)&#62; &#34;q&#34; &#38; &#39;a&#39;[2]");
  });

  it("is not drawn when no list has three widths", async () => {
    for (const nets of [sweep("two", [4, 8]), [net("a", "a", 4, 0.8), net("b", "b", 8, 0.8), net("c", "c", 16, 0.8)], [...sweep("same", [8, 8, 8])], [net("n[0]", "n", undefined, 0.8)]]) {
      const html = await renderReport("p.lth", [{ title: "t", nets }]);
      expect(html.match(/<svg/g)).toHaveLength(2);
      expect(html).not.toContain("Test error against width");
      expect(html).not.toContain("<th>width</th>");
    }
  });
});

describe("a net's width", () => {
  it("is an MLP's first hidden width, a conv net's or VGG's multiplier", () => {
    expect(archWidth({ arch: "mlp", hidden: [300, 100] })).toBe(300);
    expect(archWidth({ arch: "mlp", hidden: [] })).toBeUndefined();
    expect(archWidth({ arch: "conv4", width: 0.5 })).toBe(0.5);
    expect(archWidth({ arch: "vgg", depth: 11, width: 0.125, batchnorm: true })).toBe(0.125);
  });
});
