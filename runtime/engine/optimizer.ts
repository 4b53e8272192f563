// The update rules, on raw variables: PyTorch's SGD (with momentum) and Adam, L2 weight decay
// in the gradient, an optional L1 penalty on batch-norm scales, and masks that hold pruned
// weights at exactly 0.

import type * as TF from "@tensorflow/tfjs-core";
import type { Trainable } from "./model.js";

type Tensor = TF.Tensor;

/** Adam's constants, PyTorch's defaults: β1, β2 and ε (added to √v̂). */
export const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 } as const;

export type OptimizerKind = "sgd" | "momentum" | "adam";

/**
 * A backend's update of one variable in place, all of `step`'s arithmetic in one call (native's
 * addon); `state` is the optimizer's slots for the variable (momentum's buffer, Adam's m and v).
 */
export type FusedUpdate = (u: {
  readonly variable: TF.Variable;
  readonly grad: Tensor;
  readonly state: readonly Tensor[];
  readonly mask?: Tensor;
  readonly kind: OptimizerKind;
  readonly lr: number;
  readonly momentum: number;
  readonly decay: number;
  readonly l1: number;
  /** A batch-norm scale, which takes the L1 term. */
  readonly scale: boolean;
  readonly beta1: number;
  readonly beta2: number;
  /** Adam's bias-corrected step, lr·√(1−β2^t)/(1−β1^t). */
  readonly stepSize: number;
  /** Adam's ε as added to √v: ε·√(1−β2^t). */
  readonly epsilon: number;
}) => void;

export class Optimizer {
  private readonly state: Tensor[][];
  private t = 0;
  constructor(
    private readonly tf: typeof TF,
    private readonly kind: OptimizerKind,
    private readonly momentum: number,
    private readonly decay: number,
    private readonly l1: number,
    private readonly trainables: readonly Trainable[],
    /** The backend's fused update, where it has one (not for Nesterov momentum, which the kernels below compute). */
    private readonly fused?: FusedUpdate,
    /** Nesterov momentum, as PyTorch's SGD(nesterov=True): the step is g + momentum·buf instead of buf. */
    private readonly nesterov = false,
  ) {
    const slots = kind === "adam" ? 2 : kind === "momentum" ? 1 : 0;
    this.state = trainables.map(({ variable }) => Array.from({ length: slots }, () => tf.keep(tf.zerosLike(variable))));
  }

  /** A trainable's mask zeroes its gradient where pruned, so the update there is exactly 0. */
  step(lr: number, grads: readonly Tensor[]): void {
    const tf = this.tf;
    const { beta1, beta2, epsilon } = ADAM;
    this.t++;
    // Adam's bias correction, once a step: the step size, and ε as PyTorch adds it, to sqrt(v̂),
    // i.e. to sqrt(v)/sqrt(1-β2^t).
    const stepSize = (lr * Math.sqrt(1 - beta2 ** this.t)) / (1 - beta1 ** this.t);
    const eps = epsilon * Math.sqrt(1 - beta2 ** this.t);
    if (this.fused && !(this.nesterov && this.kind === "momentum")) {
      this.trainables.forEach(({ variable, mask, scale }, i) =>
        this.fused!({ variable, grad: grads[i]!, state: this.state[i]!, ...(mask ? { mask } : {}), kind: this.kind, lr, momentum: this.momentum, decay: this.decay, l1: this.l1, scale: scale === true, beta1, beta2, stepSize, epsilon: eps }),
      );
      return;
    }
    this.trainables.forEach(({ variable: v, mask, scale }, i) => {
      const s = this.state[i]!;
      const next = tf.tidy(() => {
        let g = grads[i]!;
        if (this.decay > 0) g = tf.add(g, tf.mul(v, this.decay));
        if (scale && this.l1 > 0) g = tf.add(g, tf.mul(tf.sign(v), this.l1));
        if (mask) g = tf.mul(g, mask);
        if (this.kind === "sgd") return { v: tf.sub(v, tf.mul(g, lr)), s: [] as Tensor[] };
        // The state is masked too: a weight pruned mid-training (gmp) must not coast on its old
        // momentum. Under a mask fixed from the start the state is already 0 there, so nothing changes.
        const held = (t: Tensor) => (mask ? tf.mul(t, mask) : t);
        if (this.kind === "momentum") {
          const buf = held(tf.add(tf.mul(s[0]!, this.momentum), g));
          const step = this.nesterov ? tf.add(g, tf.mul(buf, this.momentum)) : buf;
          return { v: tf.sub(v, tf.mul(step, lr)), s: [buf] };
        }
        const m = held(tf.add(tf.mul(s[0]!, beta1), tf.mul(g, 1 - beta1)));
        const u = held(tf.add(tf.mul(s[1]!, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const denom = tf.add(tf.sqrt(u), eps);
        return { v: tf.sub(v, tf.mul(tf.div(m, denom), stepSize)), s: [m, u] };
      });
      v.assign(next.v);
      next.v.dispose();
      for (const old of s) old.dispose();
      next.s.forEach((t, j) => (s[j] = tf.keep(t)));
    });
  }

  dispose(): void {
    for (const s of this.state) this.tf.dispose(s);
  }
}
