// What the training loop reports while it runs. The engine defines it and calls a callback
// with it; the terminal UI (ui/progress.ts) and the executors import it, never the reverse.

export interface TrainingProgress {
  readonly stage: string;
  /** 1-based. */
  readonly epoch: number;
  /** Fractional when the stage's length is given in steps; shown rounded up. */
  readonly epochs: number;
  readonly step: number;
  readonly steps: number;
  /** Mean of the recent batches. */
  readonly loss: number;
  /** The last test accuracy in [0, 1], once one was measured. */
  readonly accuracy?: number;
  /** Set on the report made after an epoch's evaluation. */
  readonly final?: boolean;
}
