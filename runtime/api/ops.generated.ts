// Generated from dsl/ops.ts by compiler/codegen/api-ops.ts; do not edit.
// `UPDATE_API=1 npx vitest run tests/compiler/codegen.test.ts` rewrites it after the op table changes.

import type { Arch, Dataset, Duration, Metrics, Net, Num, Percent } from "./values.js";

/** The optional parameters of `mnist`. */
export interface MnistOptions {
  /** training examples; default 8000 */
  readonly train?: number;
  /** test examples; default 2000 */
  readonly test?: number;
  /** seed of the split; default 0 */
  readonly seed?: number;
  /** share of training labels replaced by a different class, seeded (test labels stay clean); default 0% */
  readonly label_noise?: Percent;
  /** training examples held out as a validation split (seeded), on which train measures validation loss and finds the early-stopping point; default 0 */
  readonly validation?: number;
}

/** The optional parameters of `idx`. */
export interface IdxOptions {
  /** share of training labels replaced by a different class, seeded (test labels stay clean); default 0% */
  readonly label_noise?: Percent;
  /** training examples held out as a validation split (seeded), on which train measures validation loss and finds the early-stopping point; default 0 */
  readonly validation?: number;
  /** training examples: a seeded subset of the file's (all when absent) */
  readonly train?: number;
  /** test examples: a seeded subset of the file's (all when absent) */
  readonly test?: number;
  /** seed of the subsets and the validation split; default 0 */
  readonly seed?: number;
}

/** The optional parameters of `cifar10`. */
export interface Cifar10Options {
  /** training examples; default 50000 */
  readonly train?: number;
  /** test examples; default 10000 */
  readonly test?: number;
  /** share of training labels replaced by a different class, seeded (test labels stay clean); default 0% */
  readonly label_noise?: Percent;
  /** training examples held out as a validation split (seeded), on which train measures validation loss and finds the early-stopping point; default 0 */
  readonly validation?: number;
  /** 0: the first train and test images in file order; another: a seeded subset of all of them (and of the validation split's choice); default 0 */
  readonly seed?: number;
}

/** The optional parameters of `cifar100`. */
export interface Cifar100Options {
  /** the 100 fine classes or the 20 coarse superclasses; default fine */
  readonly labels?: "fine" | "coarse";
  /** training examples; default 50000 */
  readonly train?: number;
  /** test examples; default 10000 */
  readonly test?: number;
  /** share of training labels replaced by a different class, seeded (test labels stay clean); default 0% */
  readonly label_noise?: Percent;
  /** training examples held out as a validation split (seeded), on which train measures validation loss and finds the early-stopping point; default 0 */
  readonly validation?: number;
  /** 0: the first train and test images in file order; another: a seeded subset of all of them (and of the validation split's choice); default 0 */
  readonly seed?: number;
}

/** The optional parameters of `concat`. */
export interface ConcatOptions {
  /** seed of the pairs drawn; default 0 */
  readonly seed?: number;
}

/** The optional parameters of `planted`. */
export interface PlantedOptions {
  /** standard deviation of the Gaussian noise added to x·w*; default 0.1 */
  readonly noise?: number | Num;
  /** correlation of every pair of features (0: independent); default 0 */
  readonly correlation?: number | Num;
  /** regression (squared loss) or two classes (the sign of x·w* + noise; logistic loss); default regression */
  readonly task?: "regression" | "classification";
  /** test examples; default 1000 */
  readonly test?: number;
  /** seed of the truth and the examples; default 0 */
  readonly seed?: number;
}

/** The optional parameters of `synthetic`. */
export interface SyntheticOptions {
  /** seed of the mixture and the sample; default 0 */
  readonly seed?: number;
  /** standard deviation around each class centre; default 0.1 */
  readonly noise?: number | Num;
  /** share of training labels replaced by a different class, seeded (test labels stay clean); default 0% */
  readonly label_noise?: Percent;
}

/** The optional parameters of `augment`. */
export interface AugmentOptions {
  /** largest shift of a copy, in pixels, along each axis (zeros fill in); default 2 */
  readonly shift?: number;
  /** standard deviation of Gaussian noise added to a copy, in standardised units; default 0 */
  readonly noise?: number | Num;
  /** seed of the shifts and the noise; default 0 */
  readonly seed?: number;
}

/** The optional parameters of `conv2`. */
export interface Conv2Options {
  /** channel multiplier: 0.25 is a quarter-width net; default 1 */
  readonly width?: number;
}

/** The optional parameters of `conv4`. */
export interface Conv4Options {
  /** channel multiplier: 0.25 is a quarter-width net; default 1 */
  readonly width?: number;
}

/** The optional parameters of `conv6`. */
export interface Conv6Options {
  /** channel multiplier: 0.25 is a quarter-width net; default 1 */
  readonly width?: number;
}

/** The optional parameters of `vgg`. */
export interface VggOptions {
  /** number of weight layers; default 11 */
  readonly depth?: number;
  /** channel multiplier; default 1 */
  readonly width?: number;
  /** batch norm after every conv; default true */
  readonly batchnorm?: boolean;
}

/** The optional parameters of `resnet`. */
export interface ResnetOptions {
  /** weight layers on the main path: 6n + 2 (20, 32, 44, 56, 110); default 20 */
  readonly depth?: number;
  /** channels of the first stage (W); default 16 */
  readonly width?: number;
}

/** The optional parameters of `init`. */
export interface InitOptions {
  /** seed of the initial weights; default 0 */
  readonly seed?: number;
  /** weight initialisation; default glorot */
  readonly scheme?: "glorot" | "he";
}

/** The optional parameters of `train`. */
export interface TrainOptions {
  /** learning rate; default 0.1 */
  readonly lr?: number | Num;
  /** minibatch size; default 60 */
  readonly batch?: number;
  /** update rule; default sgd */
  readonly optimizer?: "sgd" | "momentum" | "adam";
  /** momentum coefficient (momentum optimizer); default 0.9 */
  readonly momentum?: number | Num;
  /** L2 weight decay; default 0 */
  readonly weight_decay?: number | Num;
  /** learning-rate schedule after warmup (step: multiplied by gamma at each milestone); default constant */
  readonly schedule?: "constant" | "cosine" | "step";
  /** linear learning-rate warmup; default 0 steps */
  readonly warmup?: Duration;
  /** seed of the data order; default 0 */
  readonly seed?: number;
  /** where the step schedule multiplies the learning rate by gamma (OpenLTH's CIFAR ResNets: [80 epochs, 120 epochs] of 160); required when schedule is step */
  readonly milestones?: readonly Duration[];
  /** the step schedule's factor at each milestone; default 0.1 */
  readonly gamma?: number | Num;
  /** Nesterov momentum (momentum optimizer), as PyTorch's SGD(nesterov=True); default false */
  readonly nesterov?: boolean;
  /** on-the-fly augmentation of each training batch: crop_flip is a random crop after 4-pixel zero padding and a random horizontal flip, drawn per example per epoch from seed; default none */
  readonly augment?: "none" | "crop_flip";
  /** how often test (and validation) loss and accuracy are measured; also at the end; default 1 epoch */
  readonly eval_every?: Duration;
  /** the step of the schedule and data order to begin at (weight and learning-rate rewinding resume there); default 0 steps */
  readonly start?: Duration;
  /** the step to stop at (the first k steps of a longer schedule); default: the value of `length` */
  readonly stop?: Duration;
}

/** The optional parameters of `prune`. */
export interface PruneOptions {
  /** rank weights within each layer or across all; default layerwise */
  readonly scope?: "layerwise" | "global";
  /** which weights go: smallest |w|, random ones, smallest SNIP |w·g|, largest GraSP −w⊙Hg, or smallest SynFlow score (100 rounds, data-free); default magnitude */
  readonly criterion?: "magnitude" | "random" | "snip" | "grasp" | "synflow";
  /** the rate for the last layer; default: the value of `rate` */
  readonly output_rate?: Percent;
  /** seed of random pruning; default 0 */
  readonly seed?: number;
  /** the data SNIP and GraSP score on: one batch of 10 training examples per class; required when criterion is snip or grasp */
  readonly data?: Dataset;
  /** what goes: single weights, or whole conv filters (with their channel's bias and batch norm), ranked by score; default weight */
  readonly structure?: "weight" | "filter";
  /** how filters are ranked (structure: filter): the L1 norm of their weights (Li et al., 2017) or |γ| of their batch norm (network slimming, Liu et al., 2017); default l1 */
  readonly score?: "l1" | "bn_scale";
}

/** The optional parameters of `earlybird`. */
export interface EarlybirdOptions {
  /** normalised Hamming distance under which two masks count as the same; default 0.1 */
  readonly eps?: number | Num;
  /** masks compared: the newest and the window − 1 before it; default 5 */
  readonly window?: number;
  /** L1 penalty on batch-norm scales; default 0.0001 */
  readonly l1?: number | Num;
  /** learning rate; default 0.1 */
  readonly lr?: number | Num;
  /** minibatch size; default 64 */
  readonly batch?: number;
}

/** The optional parameters of `gmp`. */
export interface GmpOptions {
  /** where the ramp begins; default 0 steps */
  readonly start?: Duration;
  /** where the ramp reaches final (default: three quarters of length) */
  readonly end?: Duration;
  /** steps between pruning steps (default: (end − start) / 20, about 20 pruning steps) */
  readonly every?: Duration;
  /** each layer at the schedule's sparsity, or one magnitude ranking across layers; default layerwise */
  readonly scope?: "layerwise" | "global";
  /** learning rate; default 0.1 */
  readonly lr?: number | Num;
  /** minibatch size; default 60 */
  readonly batch?: number;
  /** update rule; default sgd */
  readonly optimizer?: "sgd" | "momentum" | "adam";
  /** momentum coefficient (momentum optimizer); default 0.9 */
  readonly momentum?: number | Num;
  /** L2 weight decay; default 0 */
  readonly weight_decay?: number | Num;
  /** learning-rate schedule after warmup (step: multiplied by gamma at each milestone); default constant */
  readonly schedule?: "constant" | "cosine" | "step";
  /** linear learning-rate warmup; default 0 steps */
  readonly warmup?: Duration;
  /** seed of the data order; default 0 */
  readonly seed?: number;
  /** where the step schedule multiplies the learning rate by gamma (OpenLTH's CIFAR ResNets: [80 epochs, 120 epochs] of 160); required when schedule is step */
  readonly milestones?: readonly Duration[];
  /** the step schedule's factor at each milestone; default 0.1 */
  readonly gamma?: number | Num;
  /** Nesterov momentum (momentum optimizer), as PyTorch's SGD(nesterov=True); default false */
  readonly nesterov?: boolean;
  /** on-the-fly augmentation of each training batch: crop_flip is a random crop after 4-pixel zero padding and a random horizontal flip, drawn per example per epoch from seed; default none */
  readonly augment?: "none" | "crop_flip";
  /** how often test (and validation) loss and accuracy are measured; also at the end; default 1 epoch */
  readonly eval_every?: Duration;
}

/** The optional parameters of `dpf`. */
export interface DpfOptions {
  /** steps between mask refreshes; default 16 steps */
  readonly every?: Duration;
  /** where the ramp begins; default 0 steps */
  readonly start?: Duration;
  /** where the ramp reaches final (default: three quarters of length) */
  readonly end?: Duration;
  /** each layer at the schedule's sparsity, or one magnitude ranking across layers; default global */
  readonly scope?: "layerwise" | "global";
  /** learning rate; default 0.1 */
  readonly lr?: number | Num;
  /** minibatch size; default 60 */
  readonly batch?: number;
  /** update rule; default sgd */
  readonly optimizer?: "sgd" | "momentum" | "adam";
  /** momentum coefficient (momentum optimizer); default 0.9 */
  readonly momentum?: number | Num;
  /** L2 weight decay; default 0 */
  readonly weight_decay?: number | Num;
  /** learning-rate schedule after warmup (step: multiplied by gamma at each milestone); default constant */
  readonly schedule?: "constant" | "cosine" | "step";
  /** linear learning-rate warmup; default 0 steps */
  readonly warmup?: Duration;
  /** seed of the data order; default 0 */
  readonly seed?: number;
  /** where the step schedule multiplies the learning rate by gamma (OpenLTH's CIFAR ResNets: [80 epochs, 120 epochs] of 160); required when schedule is step */
  readonly milestones?: readonly Duration[];
  /** the step schedule's factor at each milestone; default 0.1 */
  readonly gamma?: number | Num;
  /** Nesterov momentum (momentum optimizer), as PyTorch's SGD(nesterov=True); default false */
  readonly nesterov?: boolean;
  /** on-the-fly augmentation of each training batch: crop_flip is a random crop after 4-pixel zero padding and a random horizontal flip, drawn per example per epoch from seed; default none */
  readonly augment?: "none" | "crop_flip";
  /** how often test (and validation) loss and accuracy are measured; also at the end; default 1 epoch */
  readonly eval_every?: Duration;
}

/** The optional parameters of `supermask`. */
export interface SupermaskOptions {
  /** learning rate of the scores; default 0.1 */
  readonly lr?: number | Num;
  /** minibatch size; default 60 */
  readonly batch?: number;
  /** update rule of the scores; default momentum */
  readonly optimizer?: "sgd" | "momentum" | "adam";
  /** momentum coefficient (momentum optimizer); default 0.9 */
  readonly momentum?: number | Num;
  /** L2 decay of the scores; default 0.0005 */
  readonly weight_decay?: number | Num;
  /** learning-rate schedule; default cosine */
  readonly schedule?: "constant" | "cosine";
  /** seed of the scores and the data order; default 0 */
  readonly seed?: number;
}

/** The optional parameters of `greedy`. */
export interface GreedyOptions {
  /** stop adding to a layer once accuracy is within this share of the full net's; default 2% */
  readonly tolerance?: Percent;
  /** units tried at each step, sampled from those not yet chosen; default 50 */
  readonly candidates?: number;
  /** examples in the minibatch each choice is judged on; default 128 */
  readonly batch?: number;
  /** training examples the stopping rule measures accuracy on (all, if fewer); default 1000 */
  readonly eval?: number;
  /** seed of the batches and the candidates; default 0 */
  readonly seed?: number;
}

/** The optional parameters of `instability`. */
export interface InstabilityOptions {
  /** data-order seed of the first copy; default 1 */
  readonly seed_a?: number;
  /** data-order seed of the second copy; default 2 */
  readonly seed_b?: number;
  /** learning rate; default 0.1 */
  readonly lr?: number | Num;
  /** minibatch size; default 60 */
  readonly batch?: number;
  /** update rule; default sgd */
  readonly optimizer?: "sgd" | "momentum" | "adam";
  /** momentum coefficient (momentum optimizer); default 0.9 */
  readonly momentum?: number | Num;
  /** L2 weight decay; default 0 */
  readonly weight_decay?: number | Num;
  /** learning-rate schedule after warmup (step: multiplied by gamma at each milestone); default constant */
  readonly schedule?: "constant" | "cosine" | "step";
  /** linear learning-rate warmup; default 0 steps */
  readonly warmup?: Duration;
  /** where the step schedule multiplies the learning rate by gamma (OpenLTH's CIFAR ResNets: [80 epochs, 120 epochs] of 160); required when schedule is step */
  readonly milestones?: readonly Duration[];
  /** the step schedule's factor at each milestone; default 0.1 */
  readonly gamma?: number | Num;
  /** Nesterov momentum (momentum optimizer), as PyTorch's SGD(nesterov=True); default false */
  readonly nesterov?: boolean;
  /** on-the-fly augmentation of each training batch: crop_flip is a random crop after 4-pixel zero padding and a random horizontal flip, drawn per example per epoch from seed; default none */
  readonly augment?: "none" | "crop_flip";
  /** how often test (and validation) loss and accuracy are measured; also at the end; default 1 epoch */
  readonly eval_every?: Duration;
}

/** The optional parameters of `loft`. */
export interface LoftOptions {
  /** parallel workers, each a process with its own tensor engine and copy of the data; default 4 */
  readonly workers?: number;
  /** steps each worker takes between syncs; default 15 */
  readonly local_steps?: number;
  /** learning rate; default 0.1 */
  readonly lr?: number | Num;
  /** minibatch size of each worker; default 60 */
  readonly batch?: number;
  /** update rule of each worker, created afresh at each repartition (the paper's code: momentum 0.9); default sgd */
  readonly optimizer?: "sgd" | "momentum" | "adam";
  /** momentum coefficient (momentum optimizer); default 0.9 */
  readonly momentum?: number | Num;
  /** L2 weight decay (the paper's code: 1e-5); default 0 */
  readonly weight_decay?: number | Num;
  /** learning-rate schedule after warmup (step: multiplied by gamma at each milestone); default constant */
  readonly schedule?: "constant" | "cosine" | "step";
  /** linear learning-rate warmup; default 0 steps */
  readonly warmup?: Duration;
  /** seed of the data order and the partitions; default 0 */
  readonly seed?: number;
  /** where the step schedule multiplies the learning rate by gamma (OpenLTH's CIFAR ResNets: [80 epochs, 120 epochs] of 160); required when schedule is step */
  readonly milestones?: readonly Duration[];
  /** the step schedule's factor at each milestone; default 0.1 */
  readonly gamma?: number | Num;
  /** Nesterov momentum (momentum optimizer), as PyTorch's SGD(nesterov=True); default false */
  readonly nesterov?: boolean;
  /** share of each partitioned layer's filters, by L2 norm, whose overlap between successive syncs is the filter distance; default 50% */
  readonly keep?: Percent;
  /** end pretraining once the filter distance between successive syncs has stayed below this for window syncs (absent: train the whole length) */
  readonly until?: number | Num;
  /** successive syncs the filter distance must stay below until; default 3 */
  readonly window?: number;
}

/** The optional parameters of `filter_distance`. */
export interface FilterDistanceOptions {
  /** share of each layer's filters kept, by L2 norm; default 50% */
  readonly keep?: Percent;
}

/** The optional parameters of `continuous_sparsification`. */
export interface ContinuousSparsificationOptions {
  /** rounds, each with β from 1 to beta_final; default 3 */
  readonly rounds?: number;
  /** the masks' starting value and their clamp between rounds (lower: sparser); default 0 */
  readonly s0?: number | Num;
  /** weight of the L1 penalty on the soft masks; default 1e-8 */
  readonly lambda?: number | Num;
  /** β at the last epoch of each round; default 200 */
  readonly beta_final?: number | Num;
  /** learning rate; default 0.1 */
  readonly lr?: number | Num;
  /** minibatch size; default 60 */
  readonly batch?: number;
  /** update rule; default sgd */
  readonly optimizer?: "sgd" | "momentum" | "adam";
  /** momentum coefficient (momentum optimizer); default 0.9 */
  readonly momentum?: number | Num;
  /** L2 weight decay; default 0 */
  readonly weight_decay?: number | Num;
  /** learning-rate schedule after warmup (step: multiplied by gamma at each milestone); default constant */
  readonly schedule?: "constant" | "cosine" | "step";
  /** linear learning-rate warmup; default 0 steps */
  readonly warmup?: Duration;
  /** seed of the data order; default 0 */
  readonly seed?: number;
  /** where the step schedule multiplies the learning rate by gamma (OpenLTH's CIFAR ResNets: [80 epochs, 120 epochs] of 160); required when schedule is step */
  readonly milestones?: readonly Duration[];
  /** the step schedule's factor at each milestone; default 0.1 */
  readonly gamma?: number | Num;
  /** Nesterov momentum (momentum optimizer), as PyTorch's SGD(nesterov=True); default false */
  readonly nesterov?: boolean;
  /** on-the-fly augmentation of each training batch: crop_flip is a random crop after 4-pixel zero padding and a random horizontal flip, drawn per example per epoch from seed; default none */
  readonly augment?: "none" | "crop_flip";
  /** how often test (and validation) loss and accuracy are measured; also at the end; default 1 epoch */
  readonly eval_every?: Duration;
}

/** The optional parameters of `transfer`. */
export interface TransferOptions {
  /** seed of any layer drawn afresh; default 0 */
  readonly seed?: number;
}

/** The optional parameters of `iht`. */
export interface IhtOptions {
  /** refit the kept weights (and the bias) to minimise the loss on the support; default true */
  readonly debias?: boolean;
}

/** The optional parameters of `forward_greedy`. */
export interface ForwardGreedyOptions {
  /** re-optimise every chosen weight after each addition (else only the new one); default true */
  readonly corrective?: boolean;
}

/** Every op of the standard library as a typed method; `call` builds the stage. */
export abstract class Ops {
  protected abstract call(op: string, args: Readonly<Record<string, unknown>>): unknown;

  /** the 10,000 real MNIST digits shipped with the package; disjoint, seeded split */
  mnist(options: MnistOptions = {}): Dataset {
    return this.call("mnist", { ...options }) as Dataset;
  }

  /** MNIST-format IDX files, raw or .gz (MNIST, Fashion-MNIST); paths relative to the .lth file */
  idx(images: string, labels: string, test_images: string, test_labels: string, options: IdxOptions = {}): Dataset {
    return this.call("idx", { images, labels, test_images, test_labels, ...options }) as Dataset;
  }

  /** the CIFAR-10 binary version (data_batch_*.bin, test_batch.bin) in a folder */
  cifar10(dir: string, options: Cifar10Options = {}): Dataset {
    return this.call("cifar10", { dir, ...options }) as Dataset;
  }

  /** the CIFAR-100 binary version (train.bin, test.bin) in a folder */
  cifar100(dir: string, options: Cifar100Options = {}): Dataset {
    return this.call("cifar100", { dir, ...options }) as Dataset;
  }

  /** concatenated inputs (Chen, Wang & Kyrillidis, 2021): training examples are ordered pairs of inputs joined into one (images side by side), each labelled with the average of its two one-hot labels; each input with itself first, then distinct pairs drawn with seed; test inputs each joined with itself */
  concat(data: Dataset, pairs: number, options: ConcatOptions = {}): Dataset {
    return this.call("concat", { data, pairs, ...options }) as Dataset;
  }

  /** a sparse linear problem with known truth: Gaussian features (pairwise correlation), a weight vector w* with exactly k non-zeros of magnitude in [1, 2), targets x·w* + noise (regression) or their sign (classification); w* and its support kept in the dataset */
  planted(n: number, features: number, k: number, options: PlantedOptions = {}): Dataset {
    return this.call("planted", { n, features, k, ...options }) as Dataset;
  }

  /** a seeded Gaussian-mixture classification set, for tests */
  synthetic(n: number, features: number, classes: number, options: SyntheticOptions = {}): Dataset {
    return this.call("synthetic", { n, features, classes, ...options }) as Dataset;
  }

  /** the training set grown by seeded copies of its images, each shifted and noised (test set unchanged) */
  augment(data: Dataset, factor: number, options: AugmentOptions = {}): Dataset {
    return this.call("augment", { data, factor, ...options }) as Dataset;
  }

  /** fully connected 300-100-10 (LeCun et al.; Frankle & Carbin's MNIST net) */
  lenet_300_100(): Arch {
    return this.call("lenet_300_100", {  }) as Arch;
  }

  /** fully connected, ReLU, with the given hidden widths */
  mlp(hidden: readonly number[]): Arch {
    return this.call("mlp", { hidden }) as Arch;
  }

  /** no hidden layer: one output for regression (squared loss) or two classes (logistic loss), else one per class (softmax) */
  linear(): Arch {
    return this.call("linear", {  }) as Arch;
  }

  /** Frankle & Carbin's conv2: 64-64 conv (3x3, max-pool after each pair), FC 256-256-10 */
  conv2(options: Conv2Options = {}): Arch {
    return this.call("conv2", { ...options }) as Arch;
  }

  /** Frankle & Carbin's conv4: 64-64-128-128 conv (3x3, max-pool after each pair), FC 256-256-10 */
  conv4(options: Conv4Options = {}): Arch {
    return this.call("conv4", { ...options }) as Arch;
  }

  /** Frankle & Carbin's conv6: 64-64-128-128-256-256 conv (3x3, max-pool after each pair), FC 256-256-10 */
  conv6(options: Conv6Options = {}): Arch {
    return this.call("conv6", { ...options }) as Arch;
  }

  /** VGG with batch norm, for channel (early-bird) pruning */
  vgg(options: VggOptions = {}): Arch {
    return this.call("vgg", { ...options }) as Arch;
  }

  /** OpenLTH's cifar_resnet_D_W (He et al., 2016): a 3x3 conv, three stages of (depth - 2) / 6 residual blocks of two 3x3 convs with W, 2W and 4W channels (stride 2 into stages 2 and 3, a 1x1 conv shortcut there), batch norm after every conv, global average pooling, one linear layer */
  resnet(options: ResnetOptions = {}): Arch {
    return this.call("resnet", { ...options }) as Arch;
  }

  /** a dense, freshly initialised net whose input and output sizes come from data */
  init(arch: Arch, data: Dataset, options: InitOptions = {}): Net {
    return this.call("init", { arch, data, ...options }) as Net;
  }

  /** trains with the net's mask held fixed (pruned weights stay exactly zero); records test accuracy and loss */
  train(net: Net, data: Dataset, length: Duration, options: TrainOptions = {}): Net {
    return this.call("train", { net, data, length, ...options }) as Net;
  }

  /** test loss and accuracy */
  evaluate(net: Net, data: Dataset): Metrics {
    return this.call("evaluate", { net, data }) as Metrics;
  }

  /** removes rate of the weights that remain (biases are never pruned) */
  prune(net: Net, rate: Percent, options: PruneOptions = {}): Net {
    return this.call("prune", { net, rate, ...options }) as Net;
  }

  /** the physically smaller dense net: masked channels removed with their filters and the next layer's weights that read them; it computes what the masked net computed */
  compact(net: Net): Net {
    return this.call("compact", { net }) as Net;
  }

  /** the weights of `to` under the mask of net; both must come from the same initialisation */
  rewind(net: Net, to: Net): Net {
    return this.call("rewind", { net, to }) as Net;
  }

  /** fresh random weights under the same mask (the random-reinitialisation control) */
  reinit(net: Net, seed: number): Net {
    return this.call("reinit", { net, seed }) as Net;
  }

  /** each layer's mask randomly permuted, same per-layer sparsity (the random-sparsity control) */
  shuffle_mask(net: Net, seed: number): Net {
    return this.call("shuffle_mask", { net, seed }) as Net;
  }

  /** trains with an L1 penalty on batch-norm scales until the channel mask stops changing (You et al., 2020) */
  earlybird(net: Net, data: Dataset, rate: Percent, max: Duration, options: EarlybirdOptions = {}): Net {
    return this.call("earlybird", { net, data, rate, max, ...options }) as Net;
  }

  /** gradual magnitude pruning (Zhu & Gupta, 2017): trains while removing the smallest weights on a cubic schedule from 0 to final sparsity */
  gmp(net: Net, data: Dataset, length: Duration, final: Percent, options: GmpOptions = {}): Net {
    return this.call("gmp", { net, data, length, final, ...options }) as Net;
  }

  /** dynamic pruning with feedback (Lin et al., 2020): the gradient of the masked net updates the dense weights; the magnitude mask is refreshed on the cubic schedule */
  dpf(net: Net, data: Dataset, length: Duration, final: Percent, options: DpfOptions = {}): Net {
    return this.call("dpf", { net, data, length, final, ...options }) as Net;
  }

  /** a mask learned over frozen weights (Zhou et al., 2019): edge-popup scores with a straight-through estimator (Ramanujan et al., 2020) */
  supermask(net: Net, data: Dataset, length: Duration, rate: Percent, options: SupermaskOptions = {}): Net {
    return this.call("supermask", { net, data, length, rate, ...options }) as Net;
  }

  /** greedy forward selection of neurons and filters, layer by layer (Ye et al., 2020); the result reports what each layer kept */
  greedy(net: Net, data: Dataset, options: GreedyOptions = {}): Net {
    return this.call("greedy", { net, data, ...options }) as Net;
  }

  /** linear mode connectivity (Frankle et al., 2020): trains two copies with different data orders and returns the test-error barrier along the line between them (26 points) */
  instability(net: Net, data: Dataset, length: Duration, options: InstabilityOptions = {}): Num {
    return this.call("instability", { net, data, length, ...options }) as Num;
  }

  /** LoFT (Wang et al., 2023): filter-wise model-parallel pretraining; each sync deals the partitioned conv layers' filters out to parallel workers, each of which builds and trains only its sub-network (its filters, the next layer's matching input channels, the replicated layers) */
  loft(net: Net, data: Dataset, length: Duration, options: LoftOptions = {}): Net {
    return this.call("loft", { net, data, length, ...options }) as Net;
  }

  /** how far apart the filters two nets would keep: per conv layer, one minus the overlap of the keep share of filters of largest L2 norm, averaged weighted by filter count (0 = the same filters) */
  filter_distance(a: Net, b: Net, options: FilterDistanceOptions = {}): Num {
    return this.call("filter_distance", { a, b, ...options }) as Num;
  }

  /** normalised Hamming distance between two masks of the same architecture */
  mask_distance(a: Net, b: Net): Num {
    return this.call("mask_distance", { a, b }) as Num;
  }

  /** continuous sparsification (Savarese et al., 2020): weights times soft masks σ(β·s), an L1 penalty on the masks, β raised each epoch to beta_final, the masks clamped between rounds; returns the trained weights under the hard mask 1[s > 0] (rewind and retrain it for the ticket) */
  continuous_sparsification(net: Net, data: Dataset, length: Duration, options: ContinuousSparsificationOptions = {}): Net {
    return this.call("continuous_sparsification", { net, data, length, ...options }) as Net;
  }

  /** a ticket moved to another dataset (Morcos et al., 2019): layers whose shape the new data leaves unchanged keep weights and mask; a layer whose shape changes (the output layer for another class count, an input layer for another input size) is drawn afresh from seed, all alive */
  transfer(net: Net, data: Dataset, options: TransferOptions = {}): Net {
    return this.call("transfer", { net, data, ...options }) as Net;
  }

  /** iterative hard thresholding of a linear net: full-batch gradient steps, each followed by keeping the k largest weights; then, with debias, the loss minimised on that support */
  iht(net: Net, data: Dataset, k: number, steps: Duration, lr: number | Num, options: IhtOptions = {}): Net {
    return this.call("iht", { net, data, k, steps, lr, ...options }) as Net;
  }

  /** greedy forward selection of a linear net's weights (Shalev-Shwartz, Srebro & Zhang, 2010): from none, add the coordinate of largest gradient k times, re-optimising on the chosen support (fully corrective) or the new coordinate alone */
  forward_greedy(net: Net, data: Dataset, k: number, options: ForwardGreedyOptions = {}): Net {
    return this.call("forward_greedy", { net, data, k, ...options }) as Net;
  }

  /** the lasso (or L1-penalised logistic regression) by FISTA: minimises the loss + lambda·‖w‖₁ from the net's weights; weights it sets to exactly 0 are masked */
  l1(net: Net, data: Dataset, lambda: number | Num, steps: Duration): Net {
    return this.call("l1", { net, data, lambda, steps }) as Net;
  }

  /** the share of a planted problem's true support among the net's k largest weights by magnitude, k the support's size (1 = exact recovery) */
  support_recovery(net: Net, data: Dataset): Num {
    return this.call("support_recovery", { net, data }) as Num;
  }

  /** ‖w − w*‖₂ / ‖w*‖₂ for a planted problem's truth w* (for classification, w scaled to the norm of w* first: only its direction is identifiable) */
  distance_to_truth(net: Net, data: Dataset): Num {
    return this.call("distance_to_truth", { net, data }) as Num;
  }

  /** the last element */
  last<T>(xs: readonly T[]): T {
    return this.call("last", { xs }) as T;
  }
}
