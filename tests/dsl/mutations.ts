// Mutations of .lth text for the fuzz tests: the language's own tokens inserted, slices
// deleted or repeated, and characters an editor or a download can leave in a file.

import fc from "fast-check";
import { OPS } from "../../dsl/ops.js";

// One seed, so that `npm test` finds the same inputs on every run; LTH_FUZZ_SEED=<n> tries
// others, and LTH_FUZZ_SEED=random a fresh one each run (fast-check prints the seed of a failure).
const seed = process.env["LTH_FUZZ_SEED"];
if (seed !== "random") fc.configureGlobal({ seed: seed ? Number(seed) : 20261121 });

/** Characters that are not the language's: NUL, a BOM, CR, replacement characters (bytes that were not UTF-8), separators, markup. */
export const ODD_TEXT = ["\u0000", "\uFEFF", "\r", "\r\n", "\uFFFD\uFFFD", "\u2028", "\t", "\u001b[31m", "</script>", "${x}", "`", "'", "\\u0041", "😀", "ℕ", "a\u0301"];

export const VOCABULARY = [
  ...["let", "import", "defaults", "repeat", "from", "as", "yield", "for", "in", "report", "true", "false"],
  ...[...OPS.keys()],
  ...["data", "net0", "t", "x", "rounds", "layerwise", "adam", "seed", "lr", "rate", "to", "output_rate"],
  ...["0", "1", "-", "2.5", "1.2e-3", "20%", "150%", "5 epochs", "1 step", '"a.lth"', '"x', "/*", "*/", "//"],
  ...["(", ")", "[", "]", "{", "}", ",", ":", "=", "|>", "@", "\\", "é"],
];

export const tokenSoup = fc.array(fc.constantFrom(...VOCABULARY), { maxLength: 60 }).chain((tokens) =>
  fc.array(fc.constantFrom(" ", "\n", "  ", ""), { minLength: tokens.length, maxLength: tokens.length }).map((gaps) =>
    tokens.map((t, i) => t + gaps[i]).join(""),
  ),
);

/** A valid file with edits: characters deleted, inserted or a slice repeated. */
export function mutated(base: string) {
  const edit = fc.record({
    at: fc.nat({ max: base.length }),
    length: fc.nat({ max: 12 }),
    kind: fc.constantFrom("delete", "insert", "repeat"),
    insert: fc.constantFrom(...VOCABULARY, ...ODD_TEXT),
  });
  return fc.array(edit, { minLength: 1, maxLength: 5 }).map((edits) => {
    let text = base;
    for (const e of edits) {
      const at = Math.min(e.at, text.length);
      if (e.kind === "delete") text = text.slice(0, at) + text.slice(at + e.length);
      else if (e.kind === "insert") text = `${text.slice(0, at)} ${e.insert} ${text.slice(at)}`;
      else text = text.slice(0, at) + text.slice(at, at + e.length) + text.slice(at);
    }
    return text;
  });
}

