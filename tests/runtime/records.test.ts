// Method records: what a method left on a net (early-bird's emergence, greedy's selection,
// LoFT's traffic) travels by the method's name, so the net's codec, `show` and the report
// need no edit when a method is added, and `rewind` knows which records describe the mask.

import { describe, expect, it } from "vitest";
import { decodeArtifact, encodeArtifact } from "../../runtime/artifacts.js";
import { withRecord, type NetValue } from "../../runtime/core/net.js";
import { decodeSafetensors } from "../../runtime/store/safetensors.js";
import { MASK_RECORDS, presentRecords, recordFigures, recordLines, RECORDS } from "../../runtime/methods/records.js";
import type { EarlyBird } from "../../runtime/methods/earlybird.js";
import type { GreedySelection } from "../../runtime/methods/greedy.js";
import type { LoftRecord } from "../../runtime/methods/loft/record.js";
import { rewind } from "../../runtime/methods/nets.js";
import { prune } from "../../runtime/methods/pruning.js";
import { ctx, data, net } from "./nets-fixture.js";

const bird: EarlyBird = { epoch: 3, emerged: true, channelSparsity: 0.25, distances: [0.5, 0.125] };
const selection: GreedySelection = { tolerance: 0.02, full: 0.75, eval: 40, layers: [{ name: "fc1", kept: 3, total: 16, accuracy: 0.7 }] };
const cost = { weights: 1000, activationBytes: 64_000, flopsPerStep: 2_000_000, layers: [{ name: "conv1", weights: 1000, activationBytes: 32_000, flopsPerStep: 2_000_000 }] };
const traffic: LoftRecord = { workers: 2, localSteps: 4, rounds: 3, partitioned: ["conv1"], bytesExchanged: 2_500_000, dataParallelBytes: 9_000_000, full: cost, perWorker: [cost, { ...cost, weights: 600, activationBytes: 40_000, flopsPerStep: 1_100_000 }], keep: 0.5, distances: [0.25, 0.125] };

const roundTrip = (n: NetValue): NetValue => {
  const back = decodeArtifact("Net", encodeArtifact({ kind: "Net", net: n }), "n.safetensors");
  if (back.kind !== "Net") throw new Error("not a net");
  return back.net;
};

describe("method records", () => {
  const d = data();
  const base = net(d);

  it("are stored as JSON under the method's name, whatever the method, and read back as written", () => {
    // A record no module of this version knows (a newer lth's, say) survives too: the codec knows no method.
    const n = withRecord(withRecord(base, "earlybird", bird), "loft", traffic) as NetValue;
    const future = { ...n, records: { ...n.records, someday: { a: [1, 2], b: "x" } } } as unknown as NetValue;
    const bytes = encodeArtifact({ kind: "Net", net: future });
    const { metadata } = decodeSafetensors(bytes, "n.safetensors");
    expect(metadata["earlybird"]).toBe(JSON.stringify(bird));
    expect(metadata["loft"]).toBe(JSON.stringify(traffic));
    expect(metadata["someday"]).toBe('{"a":[1,2],"b":"x"}');
    expect(roundTrip(future).records).toEqual(future.records);
    // Encoding what was decoded gives the same bytes: records never change a net's digest by a round trip.
    expect(Buffer.from(encodeArtifact({ kind: "Net", net: roundTrip(future) })).equals(Buffer.from(bytes))).toBe(true);
    expect(roundTrip(base).records).toBeUndefined();
  });

  it("cannot take the name of a field every net has", () => {
    const clash = { ...base, records: { history: [] } } as unknown as NetValue;
    expect(() => encodeArtifact({ kind: "Net", net: clash })).toThrow(/cannot be named 'history'/);
  });

  it("are shown by their method's printer, in the registry's order, and unknown ones are not shown", () => {
    const all = { ...base, records: { loft: traffic, greedy: selection, earlybird: bird, someday: {} } } as unknown as NetValue;
    const shown = presentRecords(all);
    expect(shown.map((r) => r.name)).toEqual(RECORDS.map((r) => r.name));
    expect(shown.map((r) => r.name)).toEqual(["earlybird", "greedy", "loft"]);
    expect(shown[0]!.lines).toEqual(["early bird: emerged after 3 epochs; 25.00% of channels masked"]);
    expect(shown[1]!.lines).toEqual(["greedy: fc1 kept 3 of 16"]);
    expect(shown[2]!.lines).toEqual([
      "loft: 2 workers, 3 syncs of 4 steps, conv1 partitioned; sent 2.5 MB, data-parallel would send 9.0 MB",
      "  filter distance between syncs: 0.250 first, 0.125 last",
      "  full net: 1.0 K weights, 64.0 kB of activations a batch, 2.00 M multiply-adds a step",
      "  worker 1: 1.0 K weights (100%), 64.0 kB of activations (100%), 2.00 M multiply-adds (100%)",
      "  worker 2: 600 weights (60%), 40.0 kB of activations (63%), 1.10 M multiply-adds (55%)",
    ]);
    // `show --json`'s form is what the text is printed from.
    expect(recordLines(Object.fromEntries(shown.map((r) => [r.name, r.json])))).toEqual(shown.flatMap((r) => r.lines));
  });

  it("ask for report figures only where a net has something to draw", () => {
    expect(recordFigures([{ name: "a", records: { earlybird: { ...bird, distances: [] } } }, { name: "b" }])).toEqual([]);
    // A LoFT record before version 3 has no distances: nothing to draw.
    const { distances: _none, keep: _keep, ...before } = traffic;
    expect(recordFigures([{ name: "b", records: { loft: before as LoftRecord } }])).toEqual([]);
    const figures = recordFigures([{ name: "a", records: { earlybird: bird } }, { name: "b", records: { loft: traffic } }]);
    expect(figures.map((f) => f.title)).toEqual(["Early-bird channel masks: distance to the previous epoch's", "LoFT: filter distance to the previous sync's partitioned layers"]);
    expect(JSON.stringify(figures[0]!.layer)).toContain('"distance":0.125');
    // LoFT's: one point per sync after the first.
    expect(JSON.stringify(figures[1]!.layer)).toContain('{"name":"b","sync":3,"distance":0.125}');
  });

  it("that describe a mask go with the mask through rewind; the others stay with the weights", () => {
    expect([...MASK_RECORDS].sort()).toEqual(["earlybird", "greedy"]);
    const trained = withRecord(base, "loft", traffic);
    const ticket = withRecord(withRecord(prune(ctx({ rate: 0.5, output_rate: 0.5, scope: "layerwise", criterion: "magnitude", seed: 0 }, { net: base })), "earlybird", bird), "loft", { ...traffic, workers: 8 });
    const rewound = rewind(ctx({}, { net: ticket, to: trained }));
    expect(rewound.records).toEqual({ loft: traffic, earlybird: bird });
    // Neither has a record: none is made up.
    expect(rewind(ctx({}, { net: prune(ctx({ rate: 0.5, output_rate: 0.5, scope: "layerwise", criterion: "magnitude", seed: 0 }, { net: base })), to: base })).records).toBeUndefined();
  });
});
