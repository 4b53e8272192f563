// Training and evaluation on the tensor engine: a hand-written step (no tfjs-layers) over
// one resident copy of the data, with the mask held fixed so pruned weights stay exactly 0.
// `fit` is the one training loop: every method that trains (train, gmp, dpf, earlybird,
// supermask, instability's copies) runs it, changing what it needs through its hooks.

import type * as TF from "@tensorflow/tfjs-core";
import { rSquared, type DatasetValue, type MetricsValue, type Split } from "../core/dataset.js";
import { stepsPerEpoch, toSteps, type Duration } from "../core/duration.js";
import { OpFailure } from "../core/errors.js";
import { parametersDigest, withMeasurement, type EarlyStop, type HistoryPoint, type Layer, type NetValue } from "../core/net.js";
import { Random } from "../core/random.js";
import type { Engine } from "./backend.js";
import { Augmenter } from "./augment.js";
import { checkData, EngineNet, features, type Trainable } from "./model.js";
import { Optimizer, type OptimizerKind } from "./optimizer.js";
import type { TrainingProgress } from "./progress.js";

type Tensor = TF.Tensor;

/**
 * Test examples measured at once. Every layer's activations for a chunk live until it is
 * done, so conv nets get small chunks (a full-width VGG-16 on 1,000 CIFAR images needs 3.6 GB
 * of wasm heap, on 200 about 0.8 GB).
 */
export const MEASURE_CHUNK = { conv: 200, dense: 1000 } as const;

/**
 * Training losses are read back from the engine (a sync that stalls its pipeline) every this
 * many steps, and at the end of each epoch; a NaN is still reported at the step it happened.
 */
export const LOSS_READBACK_STEPS = 20;

/**
 * A kernel a backend may register for the mean softmax cross-entropy of logits [n, classes]
 * against int32 labels [n], with its gradient (native's). Without it the loss is computed
 * from TensorFlow.js's own ops, as on wasm and cpu.
 */
export const CROSS_ENTROPY = "LthSoftmaxCrossEntropy";

/** Mean cross-entropy of softmax(logits) against integer labels. */
export function crossEntropy(tf: typeof TF, logits: Tensor, labels: Tensor, classes: number): TF.Scalar {
  if (tf.getKernel(CROSS_ENTROPY, tf.getBackend()) && logits.rank === 2 && labels.dtype === "int32") {
    return tf.engine().runKernel(CROSS_ENTROPY, { logits, labels }, {}) as TF.Scalar;
  }
  const onehot = tf.oneHot(labels as TF.Tensor1D, classes);
  return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1))) as TF.Scalar;
}

/**
 * The loss of a net's outputs against a split's targets: softmax cross-entropy against int32
 * labels; the logistic loss when a net has one output for two classes (a `linear` net on
 * binary data: label 1 where the output is positive); the squared error against float32
 * targets (a regression dataset: `planted`'s), as the mean of (output − target)².
 */
export function lossOf(tf: typeof TF, outputs: Tensor, targets: Tensor, classes: number): TF.Scalar {
  if (targets.dtype === "float32") return tf.mean(tf.square(tf.sub(tf.reshape(outputs, [-1]), targets))) as TF.Scalar;
  if (outputs.shape[1] === 1 && classes === 2) {
    // log(1 + e^(−s·z)) with s = ±1: softplus(−s·z).
    const sign = tf.sub(tf.mul(tf.cast(targets, "float32"), 2), 1);
    return tf.mean(tf.softplus(tf.neg(tf.mul(sign, tf.reshape(outputs, [-1]))))) as TF.Scalar;
  }
  return crossEntropy(tf, outputs, targets, classes);
}

/** A split's targets on the engine: its labels (int32), or its values (float32) for a regression dataset. */
export function targetsOf(tf: typeof TF, split: Split): Tensor {
  return split.targets ? tf.tensor1d(split.targets, "float32") : tf.tensor1d(split.y, "int32");
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
  x: Tensor | undefined,
  y: Tensor,
  idx: Int32Array,
  variables: TF.Variable[],
  optimizer: Optimizer,
  lr: number,
  weights?: () => Tensor[],
  batch?: Float32Array,
  y2?: Tensor,
  penalty?: () => TF.Scalar,
): Tensor {
  return tf.tidy(() => {
    const indices = tf.tensor1d(idx, "int32");
    // An augmented batch is built on the host (`Augmenter`); otherwise the examples are gathered from the resident set.
    if (!batch && !x) throw new Error("internal: trainStep needs the resident examples or a batch");
    const xb = batch ? tf.tensor2d(batch, [idx.length, batch.length / idx.length]) : tf.gather(x!, indices);
    const yb = tf.gather(y, indices);
    // A concatenated pair's target is the average of its two labels' one-hot vectors: the mean of the two cross-entropies.
    const yb2 = y2 ? tf.gather(y2, indices) : undefined;
    const updates: { mean: Tensor; variance: Tensor }[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.forward(xb, true, updates, weights?.());
      const loss = lossOf(tf, logits, yb, model.net.classes);
      const data = yb2 ? (tf.mul(tf.add(loss, lossOf(tf, logits, yb2, model.net.classes)), 0.5) as TF.Scalar) : loss;
      // A method's penalty on its own variables (continuous sparsification's on its masks).
      return penalty ? (tf.add(data, penalty()) as TF.Scalar) : data;
    }, variables);
    optimizer.step(lr, variables.map((v) => grads[v.name]!));
    model.setStatistics(updates);
    return value;
  });
}

/**
 * Test loss and accuracy, in chunks so memory stays flat for large test sets; `weights` as
 * `EngineNet.forward` takes them. Against a regression dataset's values the loss is the mean
 * squared error and the accuracy R² (1 − squared error / the targets' variance about their mean).
 */
export function measure(tf: typeof TF, model: EngineNet, x: Tensor, y: Tensor, weights?: readonly Tensor[]): MetricsValue {
  const n = x.shape[0]!;
  const chunk = model.net.layers.some((l) => l.kind === "conv") ? MEASURE_CHUNK.conv : MEASURE_CHUNK.dense;
  const regression = y.dtype === "float32";
  let loss = 0;
  let correct = 0;
  for (let start = 0; start < n; start += chunk) {
    const size = Math.min(chunk, n - start);
    const [l, c] = tf.tidy(() => {
      const xb = tf.slice(x, [start, 0], [size, -1]);
      const yb = tf.slice(y, [start], [size]);
      const outputs = model.forward(xb, false, undefined, weights);
      const lossSum = tf.mul(lossOf(tf, outputs, yb, model.net.classes), size);
      if (regression) return [lossSum, tf.scalar(0)];
      // One output for two classes: class 1 where it is positive.
      const predicted = outputs.shape[1] === 1 ? tf.cast(tf.greater(tf.reshape(outputs, [-1]), 0), "int32") : tf.argMax(outputs, 1);
      const hits = tf.sum(tf.cast(tf.equal(predicted, yb), "float32"));
      return [lossSum, hits];
    });
    loss += scalar(l!);
    correct += scalar(c!);
  }
  if (regression) return { loss: loss / n, accuracy: rSquared(loss / n, y.dataSync() as Float32Array) };
  return { loss: loss / n, accuracy: correct / n };
}

/** Loss and accuracy of `net` on `data`'s test split. */
export function testMetrics(engine: Engine, net: NetValue, data: DatasetValue): MetricsValue {
  const { tf } = engine;
  checkData(net, data);
  const model = new EngineNet(tf, net);
  const x = features(tf, data, data.test);
  const y = targetsOf(tf, data.test);
  try {
    return measure(tf, model, x, y);
  } finally {
    model.dispose();
    tf.dispose([x, y]);
  }
}


export interface FitOptions {
  readonly lr: number;
  readonly batch: number;
  readonly optimizer: OptimizerKind;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly cosine: boolean;
  /** The step schedule: the learning rate times `gamma` for each milestone passed (with warmup, as OpenLTH multiplies them). */
  readonly step?: { readonly milestones: readonly Duration[]; readonly gamma: number };
  /** Nesterov momentum (the momentum optimizer). */
  readonly nesterov?: boolean;
  /** On-the-fly augmentation of each training batch (`Augmenter`). */
  readonly augment?: "crop_flip";
  /** How often test (and validation) loss and accuracy are measured (default: every epoch), and at the end. */
  readonly evalEvery?: Duration;
  /** Length and warmup, each in epochs or steps. */
  readonly length: Duration;
  readonly warmup: Duration;
  readonly seed: number;
  /** L1 penalty on batch-norm scales (`earlybird`). */
  readonly l1?: number;
  readonly stage: string;
  readonly progress: (p: TrainingProgress) => void;
  /** The step of the schedule (and data order) to begin at, and the one to stop at (default: the length). */
  readonly start?: Duration;
  readonly stop?: Duration;
  /** Weight gradients are not masked: pruned weights move too (dpf's feedback). */
  readonly denseGradients?: boolean;
  readonly hooks?: FitHooks;
}

/**
 * Where a method changes the loop. Each is optional; without any, `fit` trains the net's own
 * weights, biases and batch-norm parameters under its mask and measures the test split.
 */
export interface FitHooks {
  /** What the optimizer updates, instead of the net's own parameters (a supermask's scores). */
  readonly trainables?: (model: EngineNet) => Trainable[];
  /** Weights for the forward pass, one per layer in the engine layout, made inside the gradient's scope (a supermask's masked weights). */
  readonly forwardWeights?: (model: EngineNet) => Tensor[];
  /** A term added to the loss, made inside the gradient's scope (continuous sparsification's L1 penalty on its masks). */
  readonly penalty?: () => TF.Scalar;
  /** Called after every optimizer step with the schedule's step count so far (gmp's and dpf's masks). */
  readonly afterStep?: (step: number, model: EngineNet) => void;
  /** Called after each whole epoch's measurement; returning true stops training there (earlybird). */
  readonly afterEpoch?: (epoch: number, model: EngineNet) => boolean;
  /** The test measurement after an epoch, instead of the model as it is (a supermask's current masks). */
  readonly measure?: (model: EngineNet, x: Tensor, y: Tensor) => MetricsValue;
  /** The trained layers, instead of the model's parameters read back (a supermask's masks over the frozen weights). */
  readonly result?: (model: EngineNet) => Layer[];
}

/**
 * The learning rate at each step `t` of a schedule of `total` steps: a linear warmup from
 * lr/warmup to lr, then constant or a cosine decay to 0 over the steps left; or the step
 * schedule, lr·gamma^(milestones passed), with the warmup's ramp applied to it (OpenLTH
 * multiplies the two).
 */
export function learningRate(o: Pick<FitOptions, "lr" | "cosine" | "step" | "warmup">, perEpoch: number, total: number): (t: number) => number {
  const warmup = toSteps(o.warmup, perEpoch);
  const milestones = (o.step?.milestones ?? []).map((m) => toSteps(m, perEpoch));
  return (t: number) => {
    if (o.step) {
      const base = o.lr * o.step.gamma ** milestones.filter((m) => t >= m).length;
      return t < warmup ? (base * (t + 1)) / warmup : base;
    }
    if (t < warmup) return (o.lr * (t + 1)) / warmup;
    return o.cosine ? o.lr * 0.5 * (1 + Math.cos((Math.PI * (t - warmup)) / Math.max(1, total - warmup))) : o.lr;
  };
}

/** Trains a copy of `net` on `data`; returns the trained net with its history extended and its measurement. */
export function fit(engine: Engine, net: NetValue, data: DatasetValue, o: FitOptions): NetValue {
  const { tf } = engine;
  const hooks = o.hooks ?? {};
  checkData(net, data);
  const n = data.train.n;
  const batch = Math.min(o.batch, n);
  const perEpoch = stepsPerEpoch(n, batch);
  const total = Math.max(1, toSteps(o.length, perEpoch));
  const lrAt = learningRate(o, perEpoch, total);

  const first = o.start ? toSteps(o.start, perEpoch) : 0;
  const last = o.stop ? toSteps(o.stop, perEpoch) : total;
  if (last > total) throw new OpFailure(`stop (step ${last}) is past the end of the schedule (step ${total}); stop at most at length`);
  if (first >= last) throw new OpFailure(`start (step ${first}) must come before stop (step ${last})`);

  const model = new EngineNet(tf, net);
  const trainables = hooks.trainables ? hooks.trainables(model) : model.trainables(o.denseGradients);
  const variables = trainables.map((t) => t.variable);
  const optimizer = new Optimizer(tf, o.optimizer, o.momentum, o.weightDecay, o.l1 ?? 0, trainables, engine.fusedUpdate, o.nesterov ?? false);
  // With augmentation each batch is built on the host; the training set needs no resident copy.
  const augmenter = o.augment === "crop_flip" ? new Augmenter(data, o.seed) : undefined;
  const xTrain = augmenter ? undefined : features(tf, data, data.train);
  const yTrain = targetsOf(tf, data.train);
  const yTrain2 = data.train.y2 ? tf.tensor1d(data.train.y2, "int32") : undefined;
  const xTest = features(tf, data, data.test);
  const yTest = targetsOf(tf, data.test);
  const validation = data.validation && data.validation.n > 0 ? { x: features(tf, data, data.validation), y: targetsOf(tf, data.validation) } : undefined;
  const evalSteps = o.evalEvery ? Math.max(1, toSteps(o.evalEvery, perEpoch)) : perEpoch;
  const history: HistoryPoint[] = [...net.history];
  const epochBase = history.length ? history[history.length - 1]!.epoch : 0;
  const epochs = (last - first) / perEpoch;
  const forwardWeights = hooks.forwardWeights ? () => hooks.forwardWeights!(model) : undefined;
  const measureOn = (x: Tensor, y: Tensor) => (hooks.measure ? hooks.measure(model, x, y) : measure(tf, model, x, y));

  try {
    let order: Uint32Array = new Uint32Array(0);
    let lossSum = 0;
    let lossCount = 0;
    let pending: Tensor[] = [];
    let lastAccuracy: number | undefined;
    let done = 0;
    /** The evaluation with the lowest validation loss so far (the first of equals). */
    let best: Omit<EarlyStop, "parameters"> | undefined;
    // Test (and validation) loss and accuracy now, as a history point.
    const evaluate = (mean: number) => {
      const m = measureOn(xTest, yTest);
      lastAccuracy = m.accuracy;
      const v = validation ? measureOn(validation.x, validation.y) : undefined;
      const point = { step: net.steps + done, epoch: epochBase + done / perEpoch };
      history.push({ ...point, accuracy: m.accuracy, loss: m.loss, trainLoss: mean, ...(v ? { validationLoss: v.loss, validationAccuracy: v.accuracy } : {}) });
      if (v && (!best || v.loss < best.validationLoss)) {
        best = { ...point, validationLoss: v.loss, validationAccuracy: v.accuracy, testAccuracy: m.accuracy, testLoss: m.loss };
      }
      lossSum = 0;
      lossCount = 0;
    };
    // Steps first … last − 1 of a schedule of `total` steps: a resumed run draws the same batches
    // and learning rates as the uninterrupted one would have from there.
    for (let t = first; t < last; t++) {
      const inEpoch = t % perEpoch;
      const epoch = Math.floor(t / perEpoch);
      if (inEpoch === 0 || t === first) order = new Random(o.seed, `train/order/${epoch}`).permutation(n);
      const from = inEpoch * batch;
      const idx = order.subarray(from, Math.min(n, from + batch));
      const lr = lrAt(t);
      const loss = trainStep(tf, model, xTrain, yTrain, Int32Array.from(idx), variables, optimizer, lr, forwardWeights, augmenter?.batch(idx, epoch), yTrain2, hooks.penalty);
      hooks.afterStep?.(t + 1, model);
      pending.push(loss);
      done = t + 1 - first;
      const epochEnd = (t + 1) % perEpoch === 0;
      const evaluation = (t + 1) % evalSteps === 0 || t + 1 === last;
      if (done % LOSS_READBACK_STEPS !== 0 && !epochEnd && !evaluation) continue;
      for (const [i, p] of pending.entries()) {
        const value = scalar(p);
        if (!Number.isFinite(value)) {
          tf.dispose(pending.slice(i + 1));
          // Losses are read in groups: name the first step that went bad, and its rate.
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
      if (evaluation) evaluate(mean);
      // A length that ends mid-epoch measures there too, but only whole epochs count as epochs.
      if (epochEnd) {
        stop = hooks.afterEpoch?.((t + 1) / perEpoch, model) ?? false;
        // The loop always measures after its last step.
        if (stop && !evaluation) evaluate(mean);
      }
      o.progress({
        stage: o.stage,
        epoch: Math.min(Math.ceil(epochs), Math.floor((done - 1) / perEpoch) + 1),
        epochs,
        step: done,
        steps: last - first,
        loss: mean,
        ...(lastAccuracy !== undefined ? { accuracy: lastAccuracy } : {}),
        ...(epochEnd || t + 1 === last ? { final: true } : {}),
      });
      if (stop) break;
    }
    const layers: Layer[] = hooks.result ? hooks.result(model) : model.read();
    const trained = { ...net, layers, steps: net.steps + done, history };
    // The loop always measures after its last step, on the weights read here.
    const measured = history.length > net.history.length ? history[history.length - 1]! : undefined;
    const { earlyStop: _inherited, ...result } = measured ? withMeasurement(trained, measured) : trained;
    // The early-stopping point of this training, for the parameters it ended with (`earlyStopOf`).
    const stopped: Omit<EarlyStop, "parameters"> | undefined = best;
    return stopped ? { ...result, earlyStop: { ...stopped, parameters: parametersDigest(result) } } : result;
  } finally {
    optimizer.dispose();
    model.dispose();
    tf.dispose([yTrain, xTest, yTest, ...(xTrain ? [xTrain] : []), ...(yTrain2 ? [yTrain2] : []), ...(validation ? [validation.x, validation.y] : [])]);
  }
}
