// `lth report`: a self-contained page (inline SVG, nothing remote) per report block, which a
// real browser renders: headless Chromium opens it, and a screenshot is kept.

import { execa } from "execa";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Rig, SMALL_IMP } from "./rig.js";
import { renderReport } from "../../runtime/report/report.js";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
const artifacts = join(import.meta.dirname, "../artifacts");

describe("lth report", () => {
  const rig = new Rig(`${SMALL_IMP}
let bird = earlybird(init(vgg(depth: 11, width: 0.125), mnist(train: 120, test: 60), seed: 1), mnist(train: 120, test: 60), 30%, window: 2, max: 3 epochs)
report "IMP <small> & \\"quoted\\"" { dense, rounds, control, bird }
`);
  const page = join(rig.dir, "report.html");

  it("is an error that says to run first, before the run", async () => {
    const r = await rig.lth(["report", rig.file, "-o", page]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/not computed yet: run `lth run .*` to compute it/);
  });

  it("draws accuracy against sparsity, accuracy over training, early-bird emergence and a table, with nothing remote", async () => {
    expect((await rig.run()).exitCode).toBe(0);
    const r = await rig.lth(["report", rig.file, "-o", page]);
    expect(r.exitCode).toBe(0);
    const html = readFileSync(page, "utf8");
    expect(html.match(/<svg/g)).toHaveLength(3);
    expect(html).toContain("Test accuracy against weights remaining");
    expect(html).toContain("Early-bird channel masks");
    // dense, three rounds, the control and the bird.
    expect(html.match(/<tr><td>/g)).toHaveLength(6);
    expect(html).toContain("IMP &#60;small&#62; &#38; &#34;quoted&#34;");
    expect(html).not.toMatch(/https?:|<script|<link|@import|src=/);
  });

  it("writes the accuracy-against-weights figure alone as a standalone SVG with --format svg", async () => {
    const figure = join(rig.dir, "figure.svg");
    const r = await rig.lth(["report", rig.file, "--format", "svg", "-o", figure]);
    expect(r.exitCode).toBe(0);
    const svg = readFileSync(figure, "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg).toContain("weights remaining (%)");
  });

  it.skipIf(!CHROMIUM)("renders in headless Chromium: every chart has marks, and a screenshot is kept", async () => {
    mkdirSync(artifacts, { recursive: true });
    const shot = join(artifacts, "report.png");
    const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", `--user-data-dir=${join(rig.dir, "chromium")}`];
    const dom = await execa(CHROMIUM!, [...flags, "--enable-logging=stderr", "--v=0", "--dump-dom", `file://${page}`], { reject: false, timeout: 60_000 });
    expect(dom.exitCode).toBe(0);
    const svgs = dom.stdout.split("<svg").slice(1);
    expect(svgs).toHaveLength(3);
    for (const svg of svgs) expect(svg.match(/<path/g)?.length ?? 0).toBeGreaterThan(5);
    expect(dom.stderr).not.toMatch(/CONSOLE.*(error|Uncaught)/i);
    const r = await execa(CHROMIUM!, [...flags, "--window-size=1200,1700", `--screenshot=${shot}`, `file://${page}`], { reject: false, timeout: 60_000 });
    expect(r.exitCode).toBe(0);
    expect(statSync(shot).size).toBeGreaterThan(20_000);
  }, 120_000);
});

describe("a report of numbers alone", () => {
  it("is a table of the values, without empty figures", async () => {
    const html = await renderReport("p.lth", [{ title: "Instability", nets: [], values: [{ name: "at_init", value: "0.001000" }, { name: "xs[1]", value: "accuracy 91.00%, loss 0.3000" }] }]);
    expect(html).not.toContain("<svg");
    expect(html).toContain("<tr><td>at_init</td><td>0.001000</td></tr><tr><td>xs[1]</td><td>accuracy 91.00%, loss 0.3000</td></tr>");
  });
});
