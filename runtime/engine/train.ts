// Training and evaluation on the tensor engine: a hand-written step (no tfjs-layers) over
// one resident copy of the data, with the mask held fixed so pruned weights stay exactly 0.

import type * as TF from "@tensorflow/tfjs-core";
import { withMeasurement, type DatasetValue, type HistoryPoint, type Layer, type MetricsValue, type NetValue } from "../artifacts.js";
import { datasetInput, durationParam, netInput, num, OpFailure, str, type OpContext } from "../ops/context.js";
import type { TrainingProgress } from "../ui/progress.js";
import { Random } from "../core/random.js";
import type { Engine } from "./backend.js";
import { checkData, EngineNet, features, type Trainable } from "./model.js";

type Tensor = TF.Tensor;

/** Mean cross-entropy of softmax(logits) against integer labels. */
export function crossEntropy(tf: typeof TF, logits: Tensor, labels: Tensor, classes: number): TF.Scalar {
  const onehot = tf.oneHot(labels as TF.Tensor1D, classes);
  return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1))) as TF.Scalar;
}

/** Reads a scalar and frees it. */
export function scalar(t: Tensor): number {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
}

/**
 * One optimizer step of `variables` on the examples `idx` of a resident training set: the
 * batch's loss (a scalar the caller reads and frees). `weights`, made inside the gradient's
 * scope, replace the layers' weights in the forward pass (a supermask's masked weights).
 */
export function trainStep(
  tf: typeof TF,
  model: EngineNet,
  x: Tensor,
  y: Tensor,
  idx: Int32Array,
  variables: TF.Variable[],
  optimizer: Optimizer,
  lr: number,
  weights?: () => Tensor[],
): Tensor {
  return tf.tidy(() => {
    const indices = tf.tensor1d(idx, "int32");
    const xb = tf.gather(x, indices);
    const yb = tf.gather(y, indices);
    const updates: { mean: Tensor; variance: Tensor }[] = [];
    const { value, grads } = tf.variableGrads(() => crossEntropy(tf, model.forward(xb, true, updates, weights?.()), yb, model.net.classes), variables);
    optimizer.step(lr, variables.map((v) => grads[v.name]!));
    model.setStatistics(updates);
    return value;
  });
}

/** Test loss and accuracy, in chunks so memory stays flat for large test sets; `weights` as `EngineNet.forward` takes them. */
export function measure(tf: typeof TF, model: EngineNet, x: Tensor, y: Tensor, weights?: readonly Tensor[]): MetricsValue {
  const n = x.shape[0]!;
  // Every layer's activations for a chunk live until it is done: conv nets get small chunks
  // (a full-width VGG-16 on 1,000 CIFAR images needs 3.6 GB of wasm heap, on 200 about 0.8 GB).
  const chunk = model.net.layers.some((l) => l.kind === "conv") ? 200 : 1000;
  let loss = 0;
  let correct = 0;
  for (let start = 0; start < n; start += chunk) {
    const size = Math.min(chunk, n - start);
    const [l, c] = tf.tidy(() => {
      const xb = tf.slice(x, [start, 0], [size, -1]);
      const yb = tf.slice(y, [start], [size]);
      const logits = model.forward(xb, false, undefined, weights);
      const lossSum = tf.mul(crossEntropy(tf, logits, yb, model.net.classes), size);
      const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), yb), "float32"));
      return [lossSum, hits];
    });
    loss += scalar(l!);
    correct += scalar(c!);
  }
  return { loss: loss / n, accuracy: correct / n };
}

export function evaluate(ctx: OpContext, engine: Engine): MetricsValue {
  return testMetrics(engine, netInput(ctx, "net"), datasetInput(ctx, "data"));
}

/** Loss and accuracy of `net` on `data`'s test split. */
export function testMetrics(engine: Engine, net: NetValue, data: DatasetValue): MetricsValue {
  const { tf } = engine;
  checkData(net, data);
  const model = new EngineNet(tf, net);
  const x = features(tf, data, data.test);
  const y = tf.tensor1d(data.test.y, "int32");
  try {
    return measure(tf, model, x, y);
  } finally {
    model.dispose();
    tf.dispose([x, y]);
  }
}

/**
 * The update rule, on raw variables: PyTorch's SGD (with momentum) and Adam, L2 weight
 * decay in the gradient, and an optional L1 penalty on batch-norm scales.
 */
export class Optimizer {
  private readonly state: Tensor[][];
  private t = 0;
  constructor(
    private readonly tf: typeof TF,
    private readonly kind: "sgd" | "momentum" | "adam",
    private readonly momentum: number,
    private readonly decay: number,
    private readonly l1: number,
    private readonly trainables: readonly Trainable[],
  ) {
    const slots = kind === "adam" ? 2 : kind === "momentum" ? 1 : 0;
    this.state = trainables.map(({ variable }) => Array.from({ length: slots }, () => tf.keep(tf.zerosLike(variable))));
  }

  /** A trainable's mask zeroes its gradient where pruned, so the update there is exactly 0. */
  step(lr: number, grads: readonly Tensor[]): void {
    const tf = this.tf;
    this.t++;
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
          return { v: tf.sub(v, tf.mul(buf, lr)), s: [buf] };
        }
        const m = held(tf.add(tf.mul(s[0]!, 0.9), tf.mul(g, 0.1)));
        const u = held(tf.add(tf.mul(s[1]!, 0.999), tf.mul(tf.square(g), 0.001)));
        const stepSize = (lr * Math.sqrt(1 - 0.999 ** this.t)) / (1 - 0.9 ** this.t);
        // eps as PyTorch adds it: to sqrt(v̂), i.e. to sqrt(v)/sqrt(1-β2^t).
        const denom = tf.add(tf.sqrt(u), 1e-8 * Math.sqrt(1 - 0.999 ** this.t));
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

export interface FitOptions {
  readonly lr: number;
  readonly batch: number;
  readonly optimizer: "sgd" | "momentum" | "adam";
  readonly momentum: number;
  readonly weightDecay: number;
  readonly cosine: boolean;
  /** Length and warmup, each in epochs or steps. */
  readonly length: { epochs: number } | { steps: number };
  readonly warmup: { epochs: number } | { steps: number };
  readonly seed: number;
  /** L1 penalty on batch-norm scales (`earlybird`). */
  readonly l1?: number;
  readonly stage: string;
  readonly progress: (p: TrainingProgress) => void;
  /** Called after each epoch's evaluation; returning true stops training there. */
  readonly afterEpoch?: (epoch: number, model: EngineNet) => boolean;
  /** The step of the schedule (and data order) to begin at, and the one to stop at (default: the length). */
  readonly start?: { epochs: number } | { steps: number };
  readonly stop?: { epochs: number } | { steps: number };
  /** Called after every optimizer step with the schedule's step count so far (gmp's and dpf's masks). */
  readonly afterStep?: (step: number, model: EngineNet) => void;
  /** Weight gradients are not masked: pruned weights move too (dpf's feedback). */
  readonly denseGradients?: boolean;
}

/** Trains a copy of `net` on `data`; returns the trained net with its history extended. */
export function fit(engine: Engine, net: NetValue, data: DatasetValue, o: FitOptions): NetValue {
  const { tf } = engine;
  checkData(net, data);
  const n = data.train.n;
  const batch = Math.min(o.batch, n);
  const perEpoch = Math.ceil(n / batch);
  const toSteps = (d: { epochs: number } | { steps: number }) => ("epochs" in d ? Math.round(d.epochs * perEpoch) : d.steps);
  const total = Math.max(1, toSteps(o.length));
  const warmup = toSteps(o.warmup);
  // Linear warmup from lr/warmup to lr, then constant or a cosine decay to 0 over the steps left.
  const lrAt = (t: number) => {
    if (t < warmup) return (o.lr * (t + 1)) / warmup;
    return o.cosine ? o.lr * 0.5 * (1 + Math.cos((Math.PI * (t - warmup)) / Math.max(1, total - warmup))) : o.lr;
  };

  const first = o.start ? toSteps(o.start) : 0;
  const last = o.stop ? toSteps(o.stop) : total;
  if (last > total) throw new OpFailure(`stop (step ${last}) is past the end of the schedule (step ${total}); stop at most at length`);
  if (first >= last) throw new OpFailure(`start (step ${first}) must come before stop (step ${last})`);

  const model = new EngineNet(tf, net);
  const trainables = model.trainables(o.denseGradients);
  const variables = trainables.map((t) => t.variable);
  const optimizer = new Optimizer(tf, o.optimizer, o.momentum, o.weightDecay, o.l1 ?? 0, trainables);
  const xTrain = features(tf, data, data.train);
  const yTrain = tf.tensor1d(data.train.y, "int32");
  const xTest = features(tf, data, data.test);
  const yTest = tf.tensor1d(data.test.y, "int32");
  const history: HistoryPoint[] = [...net.history];
  const epochBase = history.length ? history[history.length - 1]!.epoch : 0;
  const epochs = (last - first) / perEpoch;

  try {
    let order: Uint32Array = new Uint32Array(0);
    let lossSum = 0;
    let lossCount = 0;
    let pending: Tensor[] = [];
    let lastAccuracy: number | undefined;
    let done = 0;
    // Steps first … last − 1 of a schedule of `total` steps: a resumed run draws the same batches
    // and learning rates as the uninterrupted one would have from there.
    for (let t = first; t < last; t++) {
      const inEpoch = t % perEpoch;
      const epoch = Math.floor(t / perEpoch);
      if (inEpoch === 0 || t === first) order = new Random(o.seed, `train/order/${epoch}`).permutation(n);
      const from = inEpoch * batch;
      const idx = order.subarray(from, Math.min(n, from + batch));
      const lr = lrAt(t);
      const loss = trainStep(tf, model, xTrain, yTrain, Int32Array.from(idx), variables, optimizer, lr);
      o.afterStep?.(t + 1, model);
      pending.push(loss);
      done = t + 1 - first;
      const endOfEpoch = (t + 1) % perEpoch === 0 || t + 1 === last;
      if (done % 20 !== 0 && !endOfEpoch) continue;
      for (const [i, p] of pending.entries()) {
        const value = scalar(p);
        if (!Number.isFinite(value)) {
          tf.dispose(pending.slice(i + 1));
          // Losses are read in groups of up to 20 steps: name the first step that went bad, and its rate.
          const step = done - pending.length + i;
          const advice =
            step === 0
              ? "it is not finite at the first step, so the inputs or the starting weights hold NaN or infinity"
              : "lower lr, add warmup, or use a smaller batch";
          throw new OpFailure(
            `the training loss became ${value} at step ${net.steps + step + 1} (epoch ${(epochBase + (step + 1) / perEpoch).toFixed(2)}, learning rate ${lrAt(first + step).toPrecision(3)}); nothing was stored: ${advice}`,
          );
        }
        lossSum += value;
        lossCount++;
      }
      pending = [];
      const mean = lossSum / Math.max(1, lossCount);
      let stop = false;
      if (endOfEpoch) {
        const m = measure(tf, model, xTest, yTest);
        lastAccuracy = m.accuracy;
        history.push({ step: net.steps + done, epoch: epochBase + done / perEpoch, accuracy: m.accuracy, loss: m.loss, trainLoss: mean });
        lossSum = 0;
        lossCount = 0;
        // A length that ends mid-epoch measures there too, but only whole epochs count as epochs.
        if ((t + 1) % perEpoch === 0) stop = o.afterEpoch?.((t + 1) / perEpoch, model) ?? false;
      }
      o.progress({
        stage: o.stage,
        epoch: Math.min(Math.ceil(epochs), Math.floor((done - 1) / perEpoch) + 1),
        epochs,
        step: done,
        steps: last - first,
        loss: mean,
        ...(lastAccuracy !== undefined ? { accuracy: lastAccuracy } : {}),
        ...(endOfEpoch ? { final: true } : {}),
      });
      if (stop) break;
    }
    const layers: Layer[] = model.read();
    const trained = { ...net, layers, steps: net.steps + done, history };
    // The loop always measures after its last step, on the weights read here.
    const measured = history.length > net.history.length ? history[history.length - 1]! : undefined;
    return measured ? withMeasurement(trained, measured) : trained;
  } finally {
    optimizer.dispose();
    model.dispose();
    tf.dispose([xTrain, yTrain, xTest, yTest]);
  }
}

/**
 * The optimisation parameters every training op shares (`train`, `gmp`, `dpf`, `supermask`,
 * `instability`), read from a stage's context; `seed` where the op has one.
 */
export function trainingOptions(ctx: OpContext): FitOptions {
  return {
    lr: num(ctx, "lr"),
    batch: num(ctx, "batch"),
    optimizer: str(ctx, "optimizer") as FitOptions["optimizer"],
    momentum: num(ctx, "momentum"),
    weightDecay: num(ctx, "weight_decay"),
    cosine: str(ctx, "schedule") === "cosine",
    length: durationParam(ctx, "length"),
    warmup: ctx.params["warmup"] !== undefined ? durationParam(ctx, "warmup") : { steps: 0 },
    seed: ctx.params["seed"] !== undefined ? num(ctx, "seed") : 0,
    stage: ctx.stage,
    progress: (p) => ctx.progress(p),
  };
}

export function train(ctx: OpContext, engine: Engine): NetValue {
  return fit(engine, netInput(ctx, "net"), datasetInput(ctx, "data"), {
    ...trainingOptions(ctx),
    // Always given by the compiler (defaults applied); absent only in hand-built contexts.
    ...(ctx.params["start"] !== undefined ? { start: durationParam(ctx, "start") } : {}),
    ...(ctx.params["stop"] !== undefined ? { stop: durationParam(ctx, "stop") } : {}),
  });
}
