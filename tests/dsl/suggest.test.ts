// "Did you mean": close enough to be a typo, never a guess.

import { describe, expect, it } from "vitest";
import { closest, editDistance } from "../../dsl/check/suggest.js";
import { OPS } from "../../dsl/ops.js";

describe("edit distance", () => {
  it("counts insertions, deletions, substitutions, and a swap of neighbours as one", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("trian", "train")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
  });

  it("stops past its limit", () => {
    expect(editDistance("completely", "different", 2)).toBe(3);
    expect(editDistance("trian", "train", 2)).toBe(1);
  });
});

describe("closest", () => {
  it("finds a misspelt op, a suffixed parameter, a different case", () => {
    expect(closest("trian", OPS.keys())).toBe("train");
    expect(closest("batch_size", ["batch", "lr", "seed"])).toBe("batch");
    expect(closest("Data", ["data", "net0"])).toBe("data");
  });

  it("does not guess for short or distant words", () => {
    expect(closest("t", ["r", "x"])).toBeUndefined();
    expect(closest("attention", OPS.keys())).toBeUndefined();
  });
});
