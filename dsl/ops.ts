// The standard library (LANGUAGE.md, Standard library): one declaration per op, read by
// the checker, the runtime, the code generator and `lth ops`. Nothing here may import
// TensorFlow: `lth check` must stay instant.

import type { DurationUnit } from "./ast.js";
import {
  Arch,
  Bool,
  Dataset,
  Duration,
  enumOf,
  Int,
  listOf,
  Metrics,
  Net,
  Num,
  Percent,
  Str,
  typeVar,
  type Type,
  type Value,
} from "./types.js";

/** The language version this table implements. */
export const LANGUAGE_VERSION = 0;

/** Bounds on a numeric value (a Percent in percent, a Duration's count). */
export interface Bounds {
  readonly min?: number;
  readonly max?: number;
  /** `min` itself is not allowed (a learning rate above 0). */
  readonly minExclusive?: boolean;
  readonly maxExclusive?: boolean;
  /** The only values allowed (VGG depths). */
  readonly oneOf?: readonly number[];
}

/** A parameter's default: a constant, or the value of another parameter of the call. */
export type DefaultValue = Value | { readonly kind: "Param"; readonly name: string };

export interface ParamDecl {
  readonly name: string;
  readonly type: Type;
  readonly doc: string;
  /** What the number counts, for people: "examples", "channels". */
  readonly unit?: string;
  readonly bounds?: Bounds;
  /** Bounds on each element of a list parameter. */
  readonly elementBounds?: Bounds;
  /** For a Duration: the units it may be given in (both when absent). */
  readonly units?: readonly DurationUnit[];
  /** A list argument must have at least one element. */
  readonly nonEmpty?: boolean;
  /** Absent: the argument is required, unless `optional`. */
  readonly default?: DefaultValue;
  /** No default, yet not required: without it the op does without (`prune`'s `data`). */
  readonly optional?: boolean;
  /**
   * A parameter added after its op was first released: at its default it is left out of the
   * stage's parameters, so a stage computed before the parameter existed keeps its key (and
   * its cached result). The op must read it with the same default when absent.
   */
  readonly addedLater?: boolean;
  /** An optional parameter that is required after all when another has one of these values. */
  readonly requiredWhen?: { readonly param: string; readonly values: readonly string[] };
}

/** Whether a call may leave the parameter out. */
export function omittable(p: ParamDecl): boolean {
  return p.default !== undefined || p.optional === true;
}

/** A rule across parameters (`train + test ≤ 10000`). */
export interface Constraint {
  readonly doc: string;
  readonly params: readonly string[];
  /** A message when the values break the rule; the values have every default applied. */
  violated(values: ReadonlyMap<string, Value>): string | undefined;
}

export type OpCategory = "data" | "architecture" | "training" | "pruning" | "analysis" | "list";

export interface OpDecl {
  readonly name: string;
  /** Bumped whenever the op's output for the same inputs may change; part of every stage key. */
  readonly version: number;
  readonly category: OpCategory;
  readonly doc: string;
  readonly params: readonly ParamDecl[];
  readonly result: Type;
  readonly constraints?: readonly Constraint[];
}

// ---- shorthands -----------------------------------------------------------------------

const int = (value: number) => ({ kind: "Int", value }) as const;
const num = (value: number) => ({ kind: "Number", value }) as const;
const steps = (count: number) => ({ kind: "Duration", count, unit: "steps" }) as const;
const bool = (value: boolean) => ({ kind: "Bool", value }) as const;
const choice = (value: string) => ({ kind: "Enum", value }) as const;
const sameAs = (name: string) => ({ kind: "Param", name }) as const;

const SEED_BOUNDS: Bounds = { min: 0, max: 2 ** 32 - 1 };
const POSITIVE: Bounds = { min: 0, minExclusive: true };
const NON_NEGATIVE: Bounds = { min: 0 };
const PERCENT: Bounds = { min: 0, max: 100 };

function seed(doc: string, fallback?: number): ParamDecl {
  return fallback === undefined
    ? { name: "seed", type: Int, doc, bounds: SEED_BOUNDS }
    : { name: "seed", type: Int, doc, bounds: SEED_BOUNDS, default: int(fallback) };
}

function sumAtMost(a: string, b: string, limit: number, what: string): Constraint {
  return {
    doc: `${a} + ${b} ≤ ${limit}`,
    params: [a, b],
    violated(values) {
      const x = values.get(a);
      const y = values.get(b);
      if (x?.kind !== "Int" || y?.kind !== "Int" || x.value + y.value <= limit) return undefined;
      return `${a} + ${b} must be at most ${limit} (${what}); found ${x.value} + ${y.value} = ${x.value + y.value}`;
    },
  };
}

/** `milestones` belong to the step schedule, and only there. */
const MILESTONES_WITH_STEP: Constraint = {
  doc: "milestones only with schedule: step",
  params: ["milestones", "schedule"],
  violated(values) {
    const schedule = values.get("schedule");
    if (!values.has("milestones") || schedule?.kind !== "Enum" || schedule.value === "step") return undefined;
    return `milestones apply to schedule: step only; this call's schedule is ${schedule.value}`;
  },
};

const net = (doc = "the network"): ParamDecl => ({ name: "net", type: Net, doc });
/** The data ops' label noise (for double descent), added after their first release. */
const LABEL_NOISE: ParamDecl = {
  name: "label_noise",
  type: Percent,
  doc: "share of training labels replaced by a different class, seeded (test labels stay clean)",
  bounds: { min: 0, max: 100 },
  default: { kind: "Percent", value: 0 },
  addedLater: true,
};
const data = (doc = "the dataset"): ParamDecl => ({ name: "data", type: Dataset, doc });
/** The data ops' validation split (issue 19): training examples held out, seeded. */
const VALIDATION: ParamDecl = {
  name: "validation",
  type: Int,
  doc: "training examples held out as a validation split (seeded), on which train measures validation loss and finds the early-stopping point",
  unit: "examples",
  bounds: { min: 0 },
  default: int(0),
  addedLater: true,
};

/** The validation split comes out of the training examples and leaves at least one to train on. */
const VALIDATION_WITHIN_TRAIN: Constraint = {
  doc: "validation < train",
  params: ["validation", "train"],
  violated(values) {
    const v = values.get("validation");
    const t = values.get("train");
    if (v?.kind !== "Int" || t?.kind !== "Int" || v.value < t.value) return undefined;
    return `validation holds out training examples and must leave some to train on: validation must be below train; found validation ${v.value} with train ${t.value}`;
  },
};
const KAtMostFeatures: Constraint = {
  doc: "k ≤ features",
  params: ["k", "features"],
  violated(values) {
    const k = values.get("k");
    const d = values.get("features");
    if (k?.kind !== "Int" || d?.kind !== "Int" || k.value <= d.value) return undefined;
    return `the true weight vector has k non-zeros among its features: k must be at most features; found k ${k.value} with features ${d.value}`;
  },
};
const convWidth: ParamDecl = {
  name: "width",
  type: Num,
  doc: "channel multiplier: 0.25 is a quarter-width net",
  bounds: { min: 0, minExclusive: true, max: 16 },
  default: num(1),
};

function convnet(name: string, layers: string): OpDecl {
  return {
    name,
    version: 1,
    category: "architecture",
    doc: `Frankle & Carbin's ${name}: ${layers} conv (3x3, max-pool after each pair), FC 256-256-10`,
    params: [convWidth],
    result: Arch,
  };
}

/** `train`'s optimisation parameters, shared by the ops that train (gmp, dpf, instability). */
const TRAINING: readonly ParamDecl[] = [
  { name: "lr", type: Num, doc: "learning rate", bounds: POSITIVE, default: num(0.1) },
  { name: "batch", type: Int, doc: "minibatch size", unit: "examples", bounds: { min: 1 }, default: int(60) },
  { name: "optimizer", type: enumOf("sgd", "momentum", "adam"), doc: "update rule", default: choice("sgd") },
  { name: "momentum", type: Num, doc: "momentum coefficient (momentum optimizer)", bounds: { min: 0, max: 1, maxExclusive: true }, default: num(0.9) },
  { name: "weight_decay", type: Num, doc: "L2 weight decay", bounds: NON_NEGATIVE, default: num(0) },
  { name: "schedule", type: enumOf("constant", "cosine", "step"), doc: "learning-rate schedule after warmup (step: multiplied by gamma at each milestone)", default: choice("constant") },
  { name: "warmup", type: Duration, doc: "linear learning-rate warmup", unit: "epochs|steps", bounds: NON_NEGATIVE, default: steps(0) },
  seed("seed of the data order", 0),
  {
    name: "milestones",
    type: listOf(Duration),
    doc: "where the step schedule multiplies the learning rate by gamma (OpenLTH's CIFAR ResNets: [80 epochs, 120 epochs] of 160)",
    unit: "epochs|steps",
    optional: true,
    requiredWhen: { param: "schedule", values: ["step"] },
  },
  { name: "gamma", type: Num, doc: "the step schedule's factor at each milestone", bounds: POSITIVE, default: num(0.1), addedLater: true },
  { name: "nesterov", type: Bool, doc: "Nesterov momentum (momentum optimizer), as PyTorch's SGD(nesterov=True)", default: bool(false), addedLater: true },
  {
    name: "augment",
    type: enumOf("none", "crop_flip"),
    doc: "on-the-fly augmentation of each training batch: crop_flip is a random crop after 4-pixel zero padding and a random horizontal flip, drawn per example per epoch from seed",
    default: choice("none"),
    addedLater: true,
  },
  {
    name: "eval_every",
    type: Duration,
    doc: "how often test (and validation) loss and accuracy are measured; also at the end",
    unit: "epochs|steps",
    bounds: POSITIVE,
    default: { kind: "Duration", count: 1, unit: "epochs" },
    addedLater: true,
  },
];

/**
 * The defaults of gmp's and dpf's ramp that depend on the stage's length in steps, which only
 * the runtime knows (it depends on the dataset's size): `end` at this share of `length`, and
 * gmp's `every` so that the ramp from `start` to `end` has about this many pruning steps
 * (Zhu & Gupta's recipes). The parameters' docs say the same in words.
 */
export const RAMP_DEFAULTS = { endShareOfLength: 0.75, gmpPruningSteps: 20 } as const;

/**
 * gmp's and dpf's sparsity schedule: Zhu & Gupta's cubic ramp from 0 to `final`. `every`
 * comes last for gmp (`gmp(net, data, length, final, start, end, every)`) and right after
 * `final` for dpf (`dpf(net, data, length, final, every)`).
 */
function sparsitySchedule(every: ParamDecl, everyFirst: boolean, scopeDefault: "layerwise" | "global"): ParamDecl[] {
  const final: ParamDecl = { name: "final", type: Percent, doc: "sparsity at the end of the ramp: the share of the weights removed", bounds: { min: 0, max: 100, maxExclusive: true } };
  const ramp: ParamDecl[] = [
    { name: "start", type: Duration, doc: "where the ramp begins", unit: "epochs|steps", bounds: NON_NEGATIVE, default: steps(0) },
    { name: "end", type: Duration, doc: "where the ramp reaches final (default: three quarters of length)", unit: "epochs|steps", bounds: POSITIVE, optional: true },
  ];
  const scope: ParamDecl = { name: "scope", type: enumOf("layerwise", "global"), doc: "each layer at the schedule's sparsity, or one magnitude ranking across layers", default: choice(scopeDefault) };
  return everyFirst ? [final, every, ...ramp, scope] : [final, ...ramp, every, scope];
}

// ---- the table ------------------------------------------------------------------------

const declarations: readonly OpDecl[] = [
  {
    name: "mnist",
    version: 1,
    category: "data",
    doc: "the 10,000 real MNIST digits shipped with the package; disjoint, seeded split",
    params: [
      { name: "train", type: Int, doc: "training examples", unit: "examples", bounds: { min: 1, max: 10000 }, default: int(8000) },
      { name: "test", type: Int, doc: "test examples", unit: "examples", bounds: { min: 1, max: 10000 }, default: int(2000) },
      seed("seed of the split", 0),
      LABEL_NOISE,
      VALIDATION,
    ],
    result: Dataset,
    constraints: [sumAtMost("train", "test", 10000, "the package ships 10,000 digits"), VALIDATION_WITHIN_TRAIN],
  },
  {
    name: "idx",
    version: 1,
    category: "data",
    doc: "MNIST-format IDX files, raw or .gz (MNIST, Fashion-MNIST); paths relative to the .lth file",
    params: [
      { name: "images", type: Str, doc: "training images", unit: "path" },
      { name: "labels", type: Str, doc: "training labels", unit: "path" },
      { name: "test_images", type: Str, doc: "test images", unit: "path" },
      { name: "test_labels", type: Str, doc: "test labels", unit: "path" },
      LABEL_NOISE,
      VALIDATION,
      { name: "train", type: Int, doc: "training examples: a seeded subset of the file's (all when absent)", unit: "examples", bounds: { min: 1 }, optional: true },
      { name: "test", type: Int, doc: "test examples: a seeded subset of the file's (all when absent)", unit: "examples", bounds: { min: 1 }, optional: true },
      { ...seed("seed of the subsets and the validation split", 0), addedLater: true },
    ],
    constraints: [VALIDATION_WITHIN_TRAIN],
    result: Dataset,
  },
  {
    name: "cifar10",
    version: 1,
    category: "data",
    doc: "the CIFAR-10 binary version (data_batch_*.bin, test_batch.bin) in a folder",
    params: [
      { name: "dir", type: Str, doc: "the folder holding the batches", unit: "path" },
      { name: "train", type: Int, doc: "training examples", unit: "examples", bounds: { min: 1, max: 50000 }, default: int(50000) },
      { name: "test", type: Int, doc: "test examples", unit: "examples", bounds: { min: 1, max: 10000 }, default: int(10000) },
      LABEL_NOISE,
      VALIDATION,
      { ...seed("0: the first train and test images in file order; another: a seeded subset of all of them (and of the validation split's choice)", 0), addedLater: true },
    ],
    result: Dataset,
    constraints: [VALIDATION_WITHIN_TRAIN],
  },
  {
    name: "cifar100",
    version: 1,
    category: "data",
    doc: "the CIFAR-100 binary version (train.bin, test.bin) in a folder",
    params: [
      { name: "dir", type: Str, doc: "the folder holding train.bin and test.bin", unit: "path" },
      { name: "labels", type: enumOf("fine", "coarse"), doc: "the 100 fine classes or the 20 coarse superclasses", default: choice("fine") },
      { name: "train", type: Int, doc: "training examples", unit: "examples", bounds: { min: 1, max: 50000 }, default: int(50000) },
      { name: "test", type: Int, doc: "test examples", unit: "examples", bounds: { min: 1, max: 10000 }, default: int(10000) },
      LABEL_NOISE,
      VALIDATION,
      { ...seed("0: the first train and test images in file order; another: a seeded subset of all of them (and of the validation split's choice)", 0), addedLater: true },
    ],
    result: Dataset,
    constraints: [VALIDATION_WITHIN_TRAIN],
  },
  {
    name: "concat",
    version: 1,
    category: "data",
    doc: "concatenated inputs (Chen, Wang & Kyrillidis, 2021): training examples are ordered pairs of inputs joined into one (images side by side), each labelled with the average of its two one-hot labels; each input with itself first, then distinct pairs drawn with seed; test inputs each joined with itself",
    params: [
      data("the dataset whose inputs are paired"),
      { name: "pairs", type: Int, doc: "training examples of the result: from n (each input with itself) to n² (every ordered pair)", unit: "examples", bounds: { min: 1 } },
      seed("seed of the pairs drawn", 0),
    ],
    result: Dataset,
  },
  {
    name: "planted",
    version: 1,
    category: "data",
    doc: "a sparse linear problem with known truth: Gaussian features (pairwise correlation), a weight vector w* with exactly k non-zeros of magnitude in [1, 2), targets x·w* + noise (regression) or their sign (classification); w* and its support kept in the dataset",
    params: [
      { name: "n", type: Int, doc: "training examples", unit: "examples", bounds: { min: 1 } },
      { name: "features", type: Int, doc: "features (the dimension d)", bounds: { min: 1, max: 1_000_000 } },
      { name: "k", type: Int, doc: "non-zeros of the true weight vector", bounds: { min: 1 } },
      { name: "noise", type: Num, doc: "standard deviation of the Gaussian noise added to x·w*", bounds: NON_NEGATIVE, default: num(0.1) },
      { name: "correlation", type: Num, doc: "correlation of every pair of features (0: independent)", bounds: { min: 0, max: 1, maxExclusive: true }, default: num(0) },
      { name: "task", type: enumOf("regression", "classification"), doc: "regression (squared loss) or two classes (the sign of x·w* + noise; logistic loss)", default: choice("regression") },
      { name: "test", type: Int, doc: "test examples", unit: "examples", bounds: { min: 1 }, default: int(1000) },
      seed("seed of the truth and the examples", 0),
    ],
    constraints: [KAtMostFeatures],
    result: Dataset,
  },
  {
    name: "synthetic",
    version: 1,
    category: "data",
    doc: "a seeded Gaussian-mixture classification set, for tests",
    params: [
      { name: "n", type: Int, doc: "examples", unit: "examples", bounds: { min: 2, max: 10_000_000 } },
      { name: "features", type: Int, doc: "input features", bounds: { min: 1, max: 1_000_000 } },
      { name: "classes", type: Int, doc: "classes", bounds: { min: 2, max: 10_000 } },
      seed("seed of the mixture and the sample", 0),
      { name: "noise", type: Num, doc: "standard deviation around each class centre", bounds: NON_NEGATIVE, default: num(0.1) },
      LABEL_NOISE,
    ],
    result: Dataset,
  },
  {
    name: "augment",
    version: 1,
    category: "data",
    doc: "the training set grown by seeded copies of its images, each shifted and noised (test set unchanged)",
    params: [
      data("the dataset to grow"),
      { name: "factor", type: Int, doc: "the training set's new size, in multiples of the old (1 = unchanged)", bounds: { min: 1, max: 64 } },
      { name: "shift", type: Int, doc: "largest shift of a copy, in pixels, along each axis (zeros fill in)", unit: "pixels", bounds: { min: 0, max: 16 }, default: int(2) },
      { name: "noise", type: Num, doc: "standard deviation of Gaussian noise added to a copy, in standardised units", bounds: NON_NEGATIVE, default: num(0) },
      seed("seed of the shifts and the noise", 0),
    ],
    result: Dataset,
  },
  {
    name: "lenet_300_100",
    version: 1,
    category: "architecture",
    doc: "fully connected 300-100-10 (LeCun et al.; Frankle & Carbin's MNIST net)",
    params: [],
    result: Arch,
  },
  {
    name: "mlp",
    version: 1,
    category: "architecture",
    doc: "fully connected, ReLU, with the given hidden widths",
    params: [{ name: "hidden", type: listOf(Int), doc: "width of each hidden layer", unit: "units", elementBounds: { min: 1 } }],
    result: Arch,
  },
  {
    name: "linear",
    version: 1,
    category: "architecture",
    doc: "no hidden layer: one output for regression (squared loss) or two classes (logistic loss), else one per class (softmax)",
    params: [],
    result: Arch,
  },
  convnet("conv2", "64-64"),
  convnet("conv4", "64-64-128-128"),
  convnet("conv6", "64-64-128-128-256-256"),
  {
    name: "vgg",
    version: 1,
    category: "architecture",
    doc: "VGG with batch norm, for channel (early-bird) pruning",
    params: [
      { name: "depth", type: Int, doc: "number of weight layers", bounds: { oneOf: [11, 13, 16] }, default: int(11) },
      { ...convWidth, doc: "channel multiplier" },
      { name: "batchnorm", type: Bool, doc: "batch norm after every conv", default: bool(true) },
    ],
    result: Arch,
  },
  {
    name: "resnet",
    version: 1,
    category: "architecture",
    doc: "OpenLTH's cifar_resnet_D_W (He et al., 2016): a 3x3 conv, three stages of (depth - 2) / 6 residual blocks of two 3x3 convs with W, 2W and 4W channels (stride 2 into stages 2 and 3, a 1x1 conv shortcut there), batch norm after every conv, global average pooling, one linear layer",
    params: [
      { name: "depth", type: Int, doc: "weight layers on the main path: 6n + 2 (20, 32, 44, 56, 110)", bounds: { min: 8 }, default: int(20) },
      { name: "width", type: Int, doc: "channels of the first stage (W)", unit: "channels", bounds: { min: 1, max: 1024 }, default: int(16) },
    ],
    result: Arch,
    constraints: [
      {
        doc: "depth - 2 divisible by 6",
        params: ["depth"],
        violated(values) {
          const d = values.get("depth");
          if (d?.kind !== "Int" || (d.value - 2) % 6 === 0) return undefined;
          const below = d.value - 2 - ((d.value - 2) % 6) + 2;
          return `a CIFAR ResNet's depth is 6n + 2 (two convs per block, three stages, the first conv and the linear layer); found ${d.value}, nearest ${below} or ${below + 6}`;
        },
      },
    ],
  },
  {
    name: "init",
    version: 1,
    category: "training",
    doc: "a dense, freshly initialised net whose input and output sizes come from data",
    params: [
      { name: "arch", type: Arch, doc: "the architecture" },
      data("the dataset that fixes input and output sizes"),
      seed("seed of the initial weights", 0),
      { name: "scheme", type: enumOf("glorot", "he"), doc: "weight initialisation", default: choice("glorot") },
    ],
    result: Net,
  },
  {
    name: "train",
    // 2: the result records the test measurement of its own weights (show never inherits one); the wasm matrix-product change altered its bytes under version 1
    version: 2,
    category: "training",
    constraints: [MILESTONES_WITH_STEP],
    doc: "trains with the net's mask held fixed (pruned weights stay exactly zero); records test accuracy and loss",
    params: [
      net(),
      data(),
      { name: "length", type: Duration, doc: "how long to train: the whole schedule's length", unit: "epochs|steps", bounds: POSITIVE },
      ...TRAINING,
      {
        name: "start",
        type: Duration,
        doc: "the step of the schedule and data order to begin at (weight and learning-rate rewinding resume there)",
        unit: "epochs|steps",
        bounds: NON_NEGATIVE,
        default: steps(0),
        addedLater: true,
      },
      {
        name: "stop",
        type: Duration,
        doc: "the step to stop at (the first k steps of a longer schedule)",
        unit: "epochs|steps",
        bounds: POSITIVE,
        default: sameAs("length"),
        addedLater: true,
      },
    ],
    result: Net,
  },
  {
    name: "evaluate",
    version: 1,
    category: "analysis",
    doc: "test loss and accuracy",
    params: [net(), data()],
    result: Metrics,
  },
  {
    name: "prune",
    version: 1,
    category: "pruning",
    doc: "removes rate of the weights that remain (biases are never pruned)",
    params: [
      net(),
      { name: "rate", type: Percent, doc: "share of the remaining weights to remove", bounds: PERCENT },
      { name: "scope", type: enumOf("layerwise", "global"), doc: "rank weights within each layer or across all", default: choice("layerwise") },
      {
        name: "criterion",
        type: enumOf("magnitude", "random", "snip", "grasp", "synflow"),
        doc: "which weights go: smallest |w|, random ones, smallest SNIP |w·g|, largest GraSP −w⊙Hg, or smallest SynFlow score (100 rounds, data-free)",
        default: choice("magnitude"),
      },
      { name: "output_rate", type: Percent, doc: "the rate for the last layer", bounds: PERCENT, default: sameAs("rate") },
      seed("seed of random pruning", 0),
      {
        name: "data",
        type: Dataset,
        doc: "the data SNIP and GraSP score on: one batch of 10 training examples per class",
        optional: true,
        requiredWhen: { param: "criterion", values: ["snip", "grasp"] },
      },
      {
        name: "structure",
        type: enumOf("weight", "filter"),
        doc: "what goes: single weights, or whole conv filters (with their channel's bias and batch norm), ranked by score",
        default: choice("weight"),
        addedLater: true,
      },
      {
        name: "score",
        type: enumOf("l1", "bn_scale"),
        doc: "how filters are ranked (structure: filter): the L1 norm of their weights (Li et al., 2017) or |γ| of their batch norm (network slimming, Liu et al., 2017)",
        default: choice("l1"),
        addedLater: true,
      },
    ],
    result: Net,
  },
  {
    name: "compact",
    version: 1,
    category: "pruning",
    doc: "the physically smaller dense net: masked channels removed with their filters and the next layer's weights that read them; it computes what the masked net computed",
    params: [net("a net with masked channels (prune(…, structure: filter), earlybird)")],
    result: Net,
  },
  {
    name: "rewind",
    version: 1,
    category: "pruning",
    doc: "the weights of `to` under the mask of net; both must come from the same initialisation",
    params: [net("the net whose mask is kept"), { name: "to", type: Net, doc: "the net whose weights are taken" }],
    result: Net,
  },
  {
    name: "reinit",
    version: 1,
    category: "pruning",
    doc: "fresh random weights under the same mask (the random-reinitialisation control)",
    params: [net(), seed("seed of the new weights")],
    result: Net,
  },
  {
    name: "shuffle_mask",
    version: 1,
    category: "pruning",
    doc: "each layer's mask randomly permuted, same per-layer sparsity (the random-sparsity control)",
    params: [net(), seed("seed of the permutation")],
    result: Net,
  },
  {
    name: "earlybird",
    // 2: records the measurement of the ticket it returns; trains through train's loop, whose wasm bytes changed
    version: 2,
    category: "pruning",
    doc: "trains with an L1 penalty on batch-norm scales until the channel mask stops changing (You et al., 2020)",
    params: [
      net("a net with batch norm"),
      data(),
      { name: "rate", type: Percent, doc: "share of channels to mask, by smallest |γ| under one global threshold", bounds: { min: 0, max: 100, minExclusive: true, maxExclusive: true } },
      { name: "eps", type: Num, doc: "normalised Hamming distance under which two masks count as the same", bounds: { min: 0, max: 1 }, default: num(0.1) },
      { name: "window", type: Int, doc: "masks compared: the newest and the window − 1 before it", unit: "epochs", bounds: { min: 2, max: 1000 }, default: int(5) },
      { name: "max", type: Duration, doc: "training budget if no ticket emerges", unit: "epochs", units: ["epochs"], bounds: POSITIVE },
      { name: "l1", type: Num, doc: "L1 penalty on batch-norm scales", bounds: NON_NEGATIVE, default: num(1e-4) },
      { name: "lr", type: Num, doc: "learning rate", bounds: POSITIVE, default: num(0.1) },
      { name: "batch", type: Int, doc: "minibatch size", unit: "examples", bounds: { min: 1 }, default: int(64) },
    ],
    result: Net,
  },
  {
    name: "gmp",
    // 2: records the measurement of its result; a pruned weight no longer coasts back on momentum or Adam state
    version: 2,
    category: "pruning",
    constraints: [MILESTONES_WITH_STEP],
    doc: "gradual magnitude pruning (Zhu & Gupta, 2017): trains while removing the smallest weights on a cubic schedule from 0 to final sparsity",
    params: [
      net(),
      data(),
      { name: "length", type: Duration, doc: "how long to train", unit: "epochs|steps", bounds: POSITIVE },
      ...sparsitySchedule({
        name: "every",
        type: Duration,
        doc: "steps between pruning steps (default: (end − start) / 20, about 20 pruning steps)",
        unit: "epochs|steps",
        bounds: POSITIVE,
        optional: true,
      }, false, "layerwise"),
      ...TRAINING,
    ],
    result: Net,
  },
  {
    name: "dpf",
    // 2: records the measurement of its result; refreshes the mask along the ramp only
    version: 2,
    category: "pruning",
    constraints: [MILESTONES_WITH_STEP],
    doc: "dynamic pruning with feedback (Lin et al., 2020): the gradient of the masked net updates the dense weights; the magnitude mask is refreshed on the cubic schedule",
    params: [
      net(),
      data(),
      { name: "length", type: Duration, doc: "how long to train", unit: "epochs|steps", bounds: POSITIVE },
      ...sparsitySchedule({ name: "every", type: Duration, doc: "steps between mask refreshes", unit: "epochs|steps", bounds: POSITIVE, default: steps(16) }, true, "global"),
      ...TRAINING,
    ],
    result: Net,
  },
  {
    name: "supermask",
    // 2: records the measurement of the masked net it returns
    version: 2,
    category: "pruning",
    doc: "a mask learned over frozen weights (Zhou et al., 2019): edge-popup scores with a straight-through estimator (Ramanujan et al., 2020)",
    params: [
      net("the net whose weights stay frozen"),
      data(),
      { name: "length", type: Duration, doc: "how long to train the scores", unit: "epochs|steps", bounds: POSITIVE },
      { name: "rate", type: Percent, doc: "share of each layer's live weights the mask removes", bounds: { min: 0, max: 100, maxExclusive: true } },
      { name: "lr", type: Num, doc: "learning rate of the scores", bounds: POSITIVE, default: num(0.1) },
      { name: "batch", type: Int, doc: "minibatch size", unit: "examples", bounds: { min: 1 }, default: int(60) },
      { name: "optimizer", type: enumOf("sgd", "momentum", "adam"), doc: "update rule of the scores", default: choice("momentum") },
      { name: "momentum", type: Num, doc: "momentum coefficient (momentum optimizer)", bounds: { min: 0, max: 1, maxExclusive: true }, default: num(0.9) },
      { name: "weight_decay", type: Num, doc: "L2 decay of the scores", bounds: NON_NEGATIVE, default: num(5e-4) },
      { name: "schedule", type: enumOf("constant", "cosine"), doc: "learning-rate schedule", default: choice("cosine") },
      seed("seed of the scores and the data order", 0),
    ],
    result: Net,
  },
  {
    name: "greedy",
    // 2: records the measurement of the selected net, also for a net never trained
    version: 2,
    category: "pruning",
    doc: "greedy forward selection of neurons and filters, layer by layer (Ye et al., 2020); the result reports what each layer kept",
    params: [
      net("a trained net"),
      data(),
      { name: "tolerance", type: Percent, doc: "stop adding to a layer once accuracy is within this share of the full net's", bounds: { min: 0, max: 100, maxExclusive: true }, default: { kind: "Percent", value: 2 } },
      { name: "candidates", type: Int, doc: "units tried at each step, sampled from those not yet chosen", unit: "units", bounds: { min: 1 }, default: int(50) },
      { name: "batch", type: Int, doc: "examples in the minibatch each choice is judged on", unit: "examples", bounds: { min: 1 }, default: int(128) },
      { name: "eval", type: Int, doc: "training examples the stopping rule measures accuracy on (all, if fewer)", unit: "examples", bounds: { min: 1 }, default: int(1000) },
      seed("seed of the batches and the candidates", 0),
    ],
    result: Net,
  },
  {
    name: "instability",
    version: 1,
    category: "analysis",
    constraints: [MILESTONES_WITH_STEP],
    doc: "linear mode connectivity (Frankle et al., 2020): trains two copies with different data orders and returns the test-error barrier along the line between them (26 points)",
    params: [
      net(),
      data(),
      { name: "length", type: Duration, doc: "how long to train each copy", unit: "epochs|steps", bounds: POSITIVE },
      { name: "seed_a", type: Int, doc: "data-order seed of the first copy", bounds: SEED_BOUNDS, default: int(1) },
      { name: "seed_b", type: Int, doc: "data-order seed of the second copy", bounds: SEED_BOUNDS, default: int(2) },
      ...TRAINING.filter((p) => p.name !== "seed"),
    ],
    result: Num,
  },
  {
    name: "loft",
    // 2: records the measurement of the net it returns
    // 3: each worker trains only its sub-network (narrow partitioned layers), with train's optimizers and schedules
    version: 3,
    category: "training",
    constraints: [MILESTONES_WITH_STEP],
    doc: "LoFT (Wang et al., 2023): filter-wise model-parallel pretraining; each sync deals the partitioned conv layers' filters out to parallel workers, each of which builds and trains only its sub-network (its filters, the next layer's matching input channels, the replicated layers)",
    params: [
      net("a conv net"),
      data(),
      { name: "length", type: Duration, doc: "how long to train: batches consumed by all workers together", unit: "epochs|steps", bounds: POSITIVE },
      { name: "workers", type: Int, doc: "parallel workers, each a process with its own tensor engine and copy of the data", bounds: { min: 1, max: 64 }, default: int(4) },
      { name: "local_steps", type: Int, doc: "steps each worker takes between syncs", unit: "steps", bounds: { min: 1 }, default: int(15) },
      // train's optimisation parameters and defaults, so that one worker is train with the same
      // arguments; the paper's recipe is optimizer: momentum (0.9), weight_decay: 1e-5, a fresh
      // optimizer at each repartition.
      ...TRAINING.filter((p) => p.name !== "augment" && p.name !== "eval_every").map((p) =>
        p.name === "optimizer"
          ? { ...p, doc: "update rule of each worker, created afresh at each repartition (the paper's code: momentum 0.9)" }
          : p.name === "weight_decay"
            ? { ...p, doc: "L2 weight decay (the paper's code: 1e-5)" }
            : p.name === "seed"
              ? seed("seed of the data order and the partitions", 0)
              : p.name === "batch"
                ? { ...p, doc: "minibatch size of each worker" }
                : p,
      ),
      { name: "keep", type: Percent, doc: "share of each partitioned layer's filters, by L2 norm, whose overlap between successive syncs is the filter distance", bounds: { min: 0, max: 100, minExclusive: true }, default: { kind: "Percent", value: 50 } },
      { name: "until", type: Num, doc: "end pretraining once the filter distance between successive syncs has stayed below this for window syncs (absent: train the whole length)", bounds: { min: 0, max: 1, minExclusive: true }, optional: true },
      { name: "window", type: Int, doc: "successive syncs the filter distance must stay below until", unit: "syncs", bounds: { min: 1, max: 1000 }, default: int(3) },
    ],
    result: Net,
  },
  {
    name: "filter_distance",
    version: 1,
    category: "analysis",
    doc: "how far apart the filters two nets would keep: per conv layer, one minus the overlap of the keep share of filters of largest L2 norm, averaged weighted by filter count (0 = the same filters)",
    params: [
      { name: "a", type: Net, doc: "one net" },
      { name: "b", type: Net, doc: "the other net, of the same architecture" },
      { name: "keep", type: Percent, doc: "share of each layer's filters kept, by L2 norm", bounds: { min: 0, max: 100, minExclusive: true }, default: { kind: "Percent", value: 50 } },
    ],
    result: Num,
  },
  {
    name: "mask_distance",
    version: 1,
    category: "analysis",
    doc: "normalised Hamming distance between two masks of the same architecture",
    params: [
      { name: "a", type: Net, doc: "one net" },
      { name: "b", type: Net, doc: "the other net" },
    ],
    result: Num,
  },
  {
    name: "continuous_sparsification",
    version: 1,
    category: "pruning",
    constraints: [MILESTONES_WITH_STEP],
    doc: "continuous sparsification (Savarese et al., 2020): weights times soft masks σ(β·s), an L1 penalty on the masks, β raised each epoch to beta_final, the masks clamped between rounds; returns the trained weights under the hard mask 1[s > 0] (rewind and retrain it for the ticket)",
    params: [
      net("the net to sparsify"),
      data(),
      { name: "length", type: Duration, doc: "how long each round trains", unit: "epochs|steps", bounds: POSITIVE },
      { name: "rounds", type: Int, doc: "rounds, each with β from 1 to beta_final", bounds: { min: 1, max: 100 }, default: int(3) },
      { name: "s0", type: Num, doc: "the masks' starting value and their clamp between rounds (lower: sparser)", default: num(0) },
      { name: "lambda", type: Num, doc: "weight of the L1 penalty on the soft masks", bounds: NON_NEGATIVE, default: num(1e-8) },
      { name: "beta_final", type: Num, doc: "β at the last epoch of each round", bounds: { min: 1 }, default: num(200) },
      ...TRAINING,
    ],
    result: Net,
  },
  {
    name: "transfer",
    version: 1,
    category: "pruning",
    doc: "a ticket moved to another dataset (Morcos et al., 2019): layers whose shape the new data leaves unchanged keep weights and mask; a layer whose shape changes (the output layer for another class count, an input layer for another input size) is drawn afresh from seed, all alive",
    params: [net("the ticket (usually rewound to its early weights)"), data("the dataset to move it to"), seed("seed of any layer drawn afresh", 0)],
    result: Net,
  },
  {
    name: "iht",
    version: 1,
    category: "pruning",
    doc: "iterative hard thresholding of a linear net: full-batch gradient steps, each followed by keeping the k largest weights; then, with debias, the loss minimised on that support",
    params: [
      net("a linear net with one output (regression or two classes); only its shape is used: IHT starts from w = 0"),
      data(),
      { name: "k", type: Int, doc: "weights kept", bounds: { min: 1 } },
      { name: "steps", type: Duration, doc: "gradient steps (full batch: an epoch is one step)", unit: "epochs|steps", bounds: POSITIVE },
      { name: "lr", type: Num, doc: "step size", bounds: POSITIVE },
      { name: "debias", type: Bool, doc: "refit the kept weights (and the bias) to minimise the loss on the support", default: bool(true) },
    ],
    result: Net,
  },
  {
    name: "forward_greedy",
    version: 1,
    category: "pruning",
    doc: "greedy forward selection of a linear net's weights (Shalev-Shwartz, Srebro & Zhang, 2010): from none, add the coordinate of largest gradient k times, re-optimising on the chosen support (fully corrective) or the new coordinate alone",
    params: [
      net("a linear net with one output (regression or two classes); only its shape is used"),
      data(),
      { name: "k", type: Int, doc: "weights chosen", bounds: { min: 1 } },
      { name: "corrective", type: Bool, doc: "re-optimise every chosen weight after each addition (else only the new one)", default: bool(true) },
    ],
    result: Net,
  },
  {
    name: "l1",
    version: 1,
    category: "pruning",
    doc: "the lasso (or L1-penalised logistic regression) by FISTA: minimises the loss + lambda·‖w‖₁ from the net's weights; weights it sets to exactly 0 are masked",
    params: [
      net("a linear net with one output (regression or two classes); its weights are the starting point"),
      data(),
      { name: "lambda", type: Num, doc: "weight of the L1 penalty", bounds: NON_NEGATIVE },
      { name: "steps", type: Duration, doc: "FISTA iterations (full batch: an epoch is one)", unit: "epochs|steps", bounds: POSITIVE },
    ],
    result: Net,
  },
  {
    name: "support_recovery",
    version: 1,
    category: "analysis",
    doc: "the share of a planted problem's true support among the net's k largest weights by magnitude, k the support's size (1 = exact recovery)",
    params: [net("a linear net"), data("the planted problem (its truth)")],
    result: Num,
  },
  {
    name: "distance_to_truth",
    version: 1,
    category: "analysis",
    doc: "‖w − w*‖₂ / ‖w*‖₂ for a planted problem's truth w* (for classification, w scaled to the norm of w* first: only its direction is identifiable)",
    params: [net("a linear net"), data("the planted problem (its truth)")],
    result: Num,
  },
  {
    name: "last",
    version: 1,
    category: "list",
    doc: "the last element",
    params: [{ name: "xs", type: listOf(typeVar("T")), doc: "a list", nonEmpty: true }],
    result: typeVar("T"),
  },
];

export const OPS: ReadonlyMap<string, OpDecl> = new Map(declarations.map((op) => [op.name, op]));

export function lookupOp(name: string): OpDecl | undefined {
  return OPS.get(name);
}

export function paramOf(op: OpDecl, name: string): ParamDecl | undefined {
  return op.params.find((p) => p.name === name);
}
