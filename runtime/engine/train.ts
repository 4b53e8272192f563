// Training and evaluation on the tensor engine: a hand-written step (no tfjs-layers) over
// one resident copy of the data, with the mask held fixed so pruned weights stay exactly 0.

import type * as TF from "@tensorflow/tfjs-core";
import type { DatasetValue, DenseLayer, HistoryPoint, MetricsValue, NetValue, Split } from "../artifacts.js";
import { datasetInput, durationParam, netInput, num, OpFailure, str, type OpContext } from "../ops/context.js";
import { Random } from "../random.js";
import type { Engine } from "./backend.js";

type Tensor = TF.Tensor;

/** [out, in] (stored, as PyTorch has it) ↔ [in, out] (what matMul wants). */
function transpose(src: Float32Array | Uint8Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c]!;
  return out;
}

/** A split's features as one float tensor, scaled once. */
function features(tf: typeof TF, data: DatasetValue, split: Split): Tensor {
  const width = data.inputShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(split.n * width);
  for (let i = 0; i < x.length; i++) x[i] = split.x[i]! * data.scale;
  return tf.tensor2d(x, [split.n, width]);
}

interface Params {
  readonly weights: TF.Variable[];
  readonly biases: TF.Variable[];
  readonly masks: Tensor[];
}

function upload(tf: typeof TF, net: NetValue): Params {
  // A variable shares its initial tensor's data and adds a reference: the tensor itself must go.
  const variable = (t: Tensor) => {
    const v = tf.variable(t, true);
    t.dispose();
    return v;
  };
  return {
    weights: net.layers.map((l) => variable(tf.tensor2d(transpose(l.weight, l.outputs, l.inputs), [l.inputs, l.outputs]))),
    biases: net.layers.map((l) => variable(tf.tensor1d(l.bias))),
    masks: net.layers.map((l) => tf.tensor2d(transpose(l.mask, l.outputs, l.inputs), [l.inputs, l.outputs])),
  };
}

function forward(tf: typeof TF, net: NetValue, p: Params, x: Tensor): Tensor {
  let h = x as TF.Tensor2D;
  net.layers.forEach((l, i) => {
    h = tf.fused.matMul({ a: h, b: p.weights[i]! as TF.Tensor2D, bias: p.biases[i]!, activation: l.activation === "relu" ? "relu" : "linear" }) as TF.Tensor2D;
  });
  return h;
}

/** Mean cross-entropy of softmax(logits) against integer labels. */
function crossEntropy(tf: typeof TF, logits: Tensor, labels: Tensor, classes: number): TF.Scalar {
  const onehot = tf.oneHot(labels as TF.Tensor1D, classes);
  return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1))) as TF.Scalar;
}

/** Test loss and accuracy, in chunks so memory stays flat for large test sets. */
function measure(tf: typeof TF, net: NetValue, p: Params, x: Tensor, y: Tensor): MetricsValue {
  const n = x.shape[0]!;
  const chunk = 2000;
  let loss = 0;
  let correct = 0;
  for (let start = 0; start < n; start += chunk) {
    const size = Math.min(chunk, n - start);
    const [l, c] = tf.tidy(() => {
      const xb = tf.slice(x, [start, 0], [size, -1]);
      const yb = tf.slice(y, [start], [size]);
      const logits = forward(tf, net, p, xb);
      const lossSum = tf.mul(crossEntropy(tf, logits, yb, net.classes), size);
      const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), yb), "float32"));
      return [lossSum, hits];
    });
    loss += scalar(l);
    correct += scalar(c);
  }
  return { loss: loss / n, accuracy: correct / n };
}

/** Reads a scalar and frees it. */
function scalar(t: Tensor): number {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
}

function checkData(net: NetValue, data: DatasetValue): void {
  const width = data.inputShape.reduce((a, b) => a * b, 1);
  const first = net.layers[0]!;
  if (first.inputs !== width || net.layers[net.layers.length - 1]!.outputs !== data.classes) {
    throw new OpFailure(
      `the net takes ${first.inputs} inputs and gives ${net.layers[net.layers.length - 1]!.outputs} classes, but the dataset '${data.name}' has ${width} features and ${data.classes} classes`,
    );
  }
}

export function evaluate(ctx: OpContext, engine: Engine): MetricsValue {
  const { tf } = engine;
  const net = netInput(ctx, "net");
  const data = datasetInput(ctx, "data");
  checkData(net, data);
  const p = upload(tf, net);
  const x = features(tf, data, data.test);
  const y = tf.tensor1d(data.test.y, "int32");
  try {
    return measure(tf, net, p, x, y);
  } finally {
    tf.dispose([...p.weights, ...p.biases, ...p.masks, x, y]);
  }
}

/** The update rule, on raw variables: PyTorch's SGD (with momentum) and Adam, L2 weight decay in the gradient. */
class Optimizer {
  private readonly state: Tensor[][];
  private t = 0;
  constructor(
    private readonly tf: typeof TF,
    private readonly kind: "sgd" | "momentum" | "adam",
    private readonly momentum: number,
    private readonly decay: number,
    variables: readonly TF.Variable[],
  ) {
    const slots = kind === "adam" ? 2 : kind === "momentum" ? 1 : 0;
    this.state = variables.map((v) => Array.from({ length: slots }, () => tf.keep(tf.zerosLike(v))));
  }

  /** `masks[i]`, when present, zeroes the gradient of pruned weights, so their update is exactly 0. */
  step(lr: number, variables: readonly TF.Variable[], grads: readonly Tensor[], masks: readonly (Tensor | undefined)[]): void {
    const tf = this.tf;
    this.t++;
    variables.forEach((v, i) => {
      const s = this.state[i]!;
      const next = tf.tidy(() => {
        let g = grads[i]!;
        if (this.decay > 0) g = tf.add(g, tf.mul(v, this.decay));
        if (masks[i]) g = tf.mul(g, masks[i]!);
        if (this.kind === "sgd") return { v: tf.sub(v, tf.mul(g, lr)), s: [] as Tensor[] };
        if (this.kind === "momentum") {
          const buf = tf.add(tf.mul(s[0]!, this.momentum), g);
          return { v: tf.sub(v, tf.mul(buf, lr)), s: [buf] };
        }
        const m = tf.add(tf.mul(s[0]!, 0.9), tf.mul(g, 0.1));
        const u = tf.add(tf.mul(s[1]!, 0.999), tf.mul(tf.square(g), 0.001));
        const stepSize = (lr * Math.sqrt(1 - 0.999 ** this.t)) / (1 - 0.9 ** this.t);
        // eps scaled like PyTorch's: added to sqrt(v̂), i.e. to sqrt(v)/sqrt(1-β2^t).
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

export function train(ctx: OpContext, engine: Engine): NetValue {
  const { tf } = engine;
  const net = netInput(ctx, "net");
  const data = datasetInput(ctx, "data");
  checkData(net, data);
  const n = data.train.n;
  const batch = Math.min(num(ctx, "batch"), n);
  const perEpoch = Math.ceil(n / batch);
  const toSteps = (d: { epochs: number } | { steps: number }) => ("epochs" in d ? Math.round(d.epochs * perEpoch) : d.steps);
  const total = Math.max(1, toSteps(durationParam(ctx, "length")));
  const warmup = toSteps(durationParam(ctx, "warmup"));
  const lr0 = num(ctx, "lr");
  const cosine = str(ctx, "schedule") === "cosine";
  const seed = num(ctx, "seed");
  // Linear warmup from lr/warmup to lr, then constant or a cosine decay to 0 over the steps left.
  const lrAt = (t: number) => {
    if (t < warmup) return (lr0 * (t + 1)) / warmup;
    return cosine ? lr0 * 0.5 * (1 + Math.cos((Math.PI * (t - warmup)) / Math.max(1, total - warmup))) : lr0;
  };

  const p = upload(tf, net);
  const variables = [...p.weights, ...p.biases];
  const masks = [...p.masks, ...p.biases.map(() => undefined)];
  const optimizer = new Optimizer(tf, str(ctx, "optimizer") as "sgd" | "momentum" | "adam", num(ctx, "momentum"), num(ctx, "weight_decay"), variables);
  const xTrain = features(tf, data, data.train);
  const yTrain = tf.tensor1d(data.train.y, "int32");
  const xTest = features(tf, data, data.test);
  const yTest = tf.tensor1d(data.test.y, "int32");
  const history: HistoryPoint[] = [...net.history];
  const epochBase = history.length ? history[history.length - 1]!.epoch : 0;
  const epochs = total / perEpoch;

  try {
    let order: Uint32Array = new Uint32Array(0);
    let lossSum = 0;
    let lossCount = 0;
    let pending: Tensor[] = [];
    let lastAccuracy: number | undefined;
    const drain = () => {
      for (const t of pending) {
        lossSum += t.dataSync()[0]!;
        lossCount++;
        t.dispose();
      }
      pending = [];
    };
    for (let t = 0; t < total; t++) {
      const inEpoch = t % perEpoch;
      const epoch = Math.floor(t / perEpoch);
      if (inEpoch === 0) order = new Random(seed, `train/order/${epoch}`).permutation(n);
      const from = inEpoch * batch;
      const idx = order.subarray(from, Math.min(n, from + batch));
      const lr = lrAt(t);
      const loss = tf.tidy(() => {
        const indices = tf.tensor1d(Int32Array.from(idx), "int32");
        const xb = tf.gather(xTrain, indices);
        const yb = tf.gather(yTrain, indices);
        const { value, grads } = tf.variableGrads(() => crossEntropy(tf, forward(tf, net, p, xb), yb, net.classes), variables);
        optimizer.step(lr, variables, variables.map((v) => grads[v.name]!), masks);
        return value;
      });
      pending.push(loss);
      const done = t + 1;
      const endOfEpoch = done % perEpoch === 0 || done === total;
      if (done % 20 === 0 || endOfEpoch) {
        drain();
        const mean = lossSum / Math.max(1, lossCount);
        if (!Number.isFinite(mean)) {
          throw new OpFailure(
            `the training loss became ${mean} by step ${done} (learning rate ${lr.toPrecision(3)}); lower lr, add warmup, or use a smaller batch`,
          );
        }
        if (endOfEpoch) {
          const m = measure(tf, net, p, xTest, yTest);
          lastAccuracy = m.accuracy;
          history.push({ step: net.steps + done, epoch: epochBase + done / perEpoch, accuracy: m.accuracy, loss: m.loss, trainLoss: mean });
          lossSum = 0;
          lossCount = 0;
        }
        ctx.progress({
          stage: ctx.stage,
          epoch: Math.min(Math.ceil(epochs), epoch + 1),
          epochs,
          step: done,
          steps: total,
          loss: mean,
          ...(lastAccuracy !== undefined ? { accuracy: lastAccuracy } : {}),
          ...(endOfEpoch ? { final: true } : {}),
        });
      }
    }
    const layers: DenseLayer[] = net.layers.map((l, i) => ({
      ...l,
      weight: transpose(p.weights[i]!.dataSync() as Float32Array, l.inputs, l.outputs),
      bias: Float32Array.from(p.biases[i]!.dataSync() as Float32Array),
    }));
    return { ...net, layers, steps: net.steps + total, history };
  } finally {
    optimizer.dispose();
    tf.dispose([...variables, ...p.masks, xTrain, yTrain, xTest, yTest]);
  }
}
