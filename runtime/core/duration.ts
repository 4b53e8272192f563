// Durations: a training length (or a point in a schedule) given in epochs or in steps, as the
// language writes `3 epochs` or `500 steps`, and the one rule that turns it into steps.

export type Duration = { readonly epochs: number } | { readonly steps: number };

/** Optimizer steps in one pass over `examples` in batches of `batch` (the last batch may be short). */
export function stepsPerEpoch(examples: number, batch: number): number {
  return Math.ceil(examples / Math.min(batch, examples));
}

/** The duration in steps: epochs × steps per epoch, rounded to the nearest step. */
export function toSteps(d: Duration, perEpoch: number): number {
  return "epochs" in d ? Math.round(d.epochs * perEpoch) : d.steps;
}
