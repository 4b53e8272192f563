// "Did you mean": the closest known spelling to a misspelt op, parameter, name or enum value.

/**
 * Edit distance counting a swap of two neighbours as one edit (`trian` → `train` is 1).
 * Gives up, answering `limit + 1`, as soon as every path is past `limit`.
 */
export function editDistance(a: string, b: string, limit = Infinity): number {
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      current[j] = d;
      best = Math.min(best, d);
    }
    if (best > limit) return limit + 1;
    [before, previous, current] = [previous, current, before];
  }
  return previous[b.length]!;
}

/**
 * The candidate closest to `word`, if it is close enough to be a likely typo: one edit
 * for words of three to five letters, up to a third of the length for longer ones, none
 * for shorter ones (any one-letter name is one edit from `t`). A difference of case
 * alone, or a word that is the other plus a suffix (`batch_size` for `batch`), always
 * counts as close.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = word.length < 3 ? 0 : Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = word.toLowerCase();
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const other = candidate.toLowerCase();
    const suffixed = candidate.length >= 3 && lower.startsWith(`${other}_`);
    // Lengths further apart than the limit cannot be within it: skip the full comparison.
    if (other !== lower && !suffixed && Math.abs(candidate.length - word.length) > limit) continue;
    const distance = other === lower ? 0.5 : suffixed ? limit : editDistance(word, candidate, limit);
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

export function didYouMean(word: string, candidates: Iterable<string>): string {
  const suggestion = closest(word, candidates);
  return suggestion === undefined ? "" : `; did you mean '${suggestion}'?`;
}
