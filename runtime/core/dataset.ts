// A dataset as the stages pass it: two splits of examples and labels, and how a stored
// feature becomes the number the net sees.

export interface Split {
  readonly n: number;
  /** n × features: bytes for images (scaled by `scale` when used), floats otherwise. */
  readonly x: Uint8Array | Float32Array;
  readonly y: Int32Array;
  /**
   * A second label per example, in training sets made by `concat`: an example's target is the
   * average of the one-hot vectors of `y` and `y2` (Chen, Wang & Kyrillidis 2021), so its loss is
   * the mean of the cross-entropies against each.
   */
  readonly y2?: Int32Array;
  /** A regression dataset's targets (`planted`'s); its `y` is then empty. */
  readonly targets?: Float32Array;
}

export interface DatasetValue {
  readonly name: string;
  readonly inputShape: readonly number[];
  readonly classes: number;
  /** What a stored feature is multiplied by before use (1/255 for image bytes). */
  readonly scale: number;
  /**
   * Per channel (the last axis; one entry for flat features): the mean and standard deviation
   * of the scaled training inputs, which training subtracts and divides by.
   */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  readonly train: Split;
  readonly test: Split;
  /**
   * Training examples held out (the data op's `validation: N`, seeded), never trained on:
   * `train` measures validation loss and accuracy on them and records the early-stopping point.
   */
  readonly validation?: Split;
  /** Targets are values, not classes (`planted(…, task: regression)`): squared loss, R² for accuracy. */
  readonly task?: "regression";
  /** A planted problem's truth: the weight vector w* (one per feature) and its support (sorted). */
  readonly truth?: { readonly weights: Float32Array; readonly support: Int32Array };
}

/** Test loss and accuracy in [0, 1]. */
export interface MetricsValue {
  readonly accuracy: number;
  readonly loss: number;
}

/** A regression's accuracy: R² = 1 − mean squared error / the targets' variance about their mean (1 perfect, 0 the mean's). */
export function rSquared(meanSquaredError: number, targets: ArrayLike<number>): number {
  const n = targets.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += targets[i]! / n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += ((targets[i]! - mean) * (targets[i]! - mean)) / n;
  return 1 - meanSquaredError / variance;
}
