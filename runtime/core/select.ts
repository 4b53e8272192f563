// Selection of the k lowest or k highest of an array of scores, ties going to the earlier
// position: the one ranking rule behind every pruning criterion (magnitude and saliency
// pruning, gradual pruning, supermasks, Early-Bird's channels, filter norms). Plain
// typed-array code, so it gives the same positions on every backend and machine.
//
// Domain core: this module imports nothing, and nothing here knows about nets or ops.

/** Scores to rank: float32 as the weights are stored, or float64 for sums computed in JavaScript. */
export type Scores = Float32Array | Float64Array;

/**
 * What a NaN score does. `throw`: a NaN is a bug in the scorer (scores computed from a
 * stored net). `last`: a NaN ranks after every number, in either direction, so it is chosen
 * only when the numbers run out (then by position); for scores read from a net mid-training,
 * where a NaN means the training diverged and the training loop, not the ranking, reports it.
 */
export type NanRule = "throw" | "last";

/**
 * The positions of the `k` lowest of `scores`, in increasing order, ties going to the earlier
 * position: the first `k` of a stable ascending sort. The k-th lowest value is found by
 * selection (three-way, so many equal scores cost nothing extra). -0 counts as +0 (equal, so
 * tied). `k` is clamped to 0..scores.length.
 */
export function lowest(scores: Scores, k: number, nan: NanRule = "throw"): Uint32Array {
  return select(scores, k, false, nan);
}

/**
 * The positions of the `k` highest of `scores`, in increasing order, ties going to the earlier
 * position (not the reverse of `lowest`'s order: the earlier of two equal scores is the one
 * chosen in both). -0 counts as +0; `k` is clamped to 0..scores.length.
 */
export function highest(scores: Scores, k: number, nan: NanRule = "throw"): Uint32Array {
  return select(scores, k, true, nan);
}

function select(scores: Scores, k: number, high: boolean, nan: NanRule): Uint32Array {
  const n = scores.length;
  const out = new Uint32Array(Math.max(0, Math.min(k, n)));
  if (out.length === 0) return out;
  let numbers = 0;
  for (let i = 0; i < n; i++) {
    if (scores[i] === scores[i]) numbers++;
    else if (nan === "throw") throw new Error("internal: a pruning score is NaN");
  }
  // The first `fromNumbers` are numbers; any more are NaN positions, earliest first.
  const fromNumbers = Math.min(out.length, numbers);
  let nans = out.length - fromNumbers;
  let threshold = NaN;
  if (fromNumbers > 0) {
    const values = scores instanceof Float64Array ? new Float64Array(numbers) : new Float32Array(numbers);
    let v = 0;
    for (let i = 0; i < n; i++) if (scores[i] === scores[i]) values[v++] = scores[i]!;
    threshold = kthSmallest(values, high ? numbers - fromNumbers : fromNumbers - 1);
  }
  // NaN compares false with everything, so it is neither beyond nor at the threshold.
  let beyond = 0;
  for (let i = 0; i < n; i++) if (high ? scores[i]! > threshold : scores[i]! < threshold) beyond++;
  let atThreshold = fromNumbers - beyond;
  let o = 0;
  for (let c = 0; c < n && o < out.length; c++) {
    const s = scores[c]!;
    if (high ? s > threshold : s < threshold) out[o++] = c;
    else if (s === threshold) {
      if (atThreshold > 0) {
        out[o++] = c;
        atThreshold--;
      }
    } else if (s !== s && nans > 0) {
      out[o++] = c;
      nans--;
    }
  }
  return out;
}

/** The value at 0-based rank `r` of `xs` (reordered in place), by quickselect with three-way partitions. */
function kthSmallest(xs: Scores, r: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  for (;;) {
    if (lo >= hi) return xs[lo]!;
    // Median of three, deterministic.
    const a = xs[lo]!;
    const b = xs[(lo + hi) >>> 1]!;
    const c = xs[hi]!;
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    // [lo, lt) < pivot, [lt, i) = pivot, (gt, hi] > pivot.
    let lt = lo;
    let gt = hi;
    let i = lo;
    while (i <= gt) {
      const v = xs[i]!;
      if (v < pivot) {
        xs[i] = xs[lt]!;
        xs[lt++] = v;
        i++;
      } else if (v > pivot) {
        xs[i] = xs[gt]!;
        xs[gt--] = v;
      } else i++;
    }
    if (r < lt) hi = lt - 1;
    else if (r > gt) lo = gt + 1;
    else return pivot;
  }
}
