// On-the-fly augmentation of training batches: OpenLTH's CIFAR recipe, a random horizontal
// flip and a random crop after 4-pixel zero padding (torchvision's RandomHorizontalFlip and
// RandomCrop(32, 4), applied to the image before it is normalised, so the padding is a black
// pixel, standardised like any other). Each example's flip and offsets are drawn per epoch
// from the stage's seed, so a stage's batches depend on its key alone and a resumed run draws
// what the uninterrupted one would have. The dataset is never copied: each batch is built on
// the host from the stored training bytes, standardised as it is read.

import type { DatasetValue } from "../core/dataset.js";
import { OpFailure } from "../core/errors.js";
import { Random } from "../core/random.js";
import { standardise } from "./model.js";

/** Pixels of zero padding on each side before the crop (OpenLTH's `RandomCrop(32, 4)`). */
export const CROP_PADDING = 4;

/** One example's draw: whether it is flipped, and the crop's offset into the padded image (0 … 2·padding). */
export interface Draw {
  readonly flip: boolean;
  readonly dy: number;
  readonly dx: number;
}

export class Augmenter {
  /** The training split as stored (bytes for images), read in place. */
  private readonly x: Uint8Array | Float32Array;
  /** For bytes: each channel's 256 standardised values, looked up. */
  private readonly table: Float32Array | undefined;
  private readonly data: DatasetValue;
  private readonly height: number;
  private readonly width: number;
  private readonly channels: number;
  /** The standardised value of a zero byte, per channel: what the padding holds. */
  private readonly pad: Float32Array;
  private epoch = -1;
  private draws: { flip: Uint8Array; dy: Uint8Array; dx: Uint8Array } | undefined;

  constructor(
    data: DatasetValue,
    private readonly seed: number,
  ) {
    if (data.inputShape.length !== 3) {
      throw new OpFailure(`augment: crop_flip crops and flips images, and the dataset '${data.name}' has examples of ${data.inputShape.join(" × ")} features; use augment: none`);
    }
    [this.height, this.width, this.channels] = data.inputShape as [number, number, number];
    this.data = data;
    this.x = data.train.x;
    this.table = this.x instanceof Uint8Array ? Float32Array.from({ length: 256 * this.channels }, (_, j) => standardise(data, j % 256, Math.floor(j / 256))) : undefined;
    this.pad = Float32Array.from({ length: this.channels }, (_, c) => standardise(data, 0, c));
  }

  /** Every training example's draw for `epoch`. */
  drawsFor(epoch: number): { flip: Uint8Array; dy: Uint8Array; dx: Uint8Array } {
    if (this.epoch !== epoch || !this.draws) {
      const n = this.x.length / (this.height * this.width * this.channels);
      const random = new Random(this.seed, `train/augment/${epoch}`);
      const span = 2 * CROP_PADDING + 1;
      const flip = new Uint8Array(n);
      const dy = new Uint8Array(n);
      const dx = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        flip[i] = random.next() < 0.5 ? 1 : 0;
        dy[i] = Math.min(span - 1, Math.floor(random.next() * span));
        dx[i] = Math.min(span - 1, Math.floor(random.next() * span));
      }
      this.draws = { flip, dy, dx };
      this.epoch = epoch;
    }
    return this.draws;
  }

  /** The standardised, augmented examples `idx` of `epoch`, one after another (NHWC). */
  batch(idx: ArrayLike<number>, epoch: number): Float32Array {
    const { height: h, width: w, channels: c } = this;
    const size = h * w * c;
    const out = new Float32Array(idx.length * size);
    const d = this.drawsFor(epoch);
    for (let b = 0; b < idx.length; b++) {
      const i = idx[b]!;
      this.example(i, { flip: d.flip[i] === 1, dy: d.dy[i]!, dx: d.dx[i]! }, out, b * size);
    }
    return out;
  }

  /**
   * Example `i` flipped (if drawn), padded and cropped, written at `offset` of `out`: output
   * pixel (y, x) is the flipped image's pixel (y + dy − 4, x + dx − 4), or padding outside it.
   */
  example(i: number, draw: Draw, out: Float32Array, offset: number): void {
    const { height: h, width: w, channels: c, x, pad, table, data } = this;
    const base = i * h * w * c;
    for (let y = 0; y < h; y++) {
      const sy = y + draw.dy - CROP_PADDING;
      for (let xx = 0; xx < w; xx++) {
        const cx = xx + draw.dx - CROP_PADDING;
        const at = offset + (y * w + xx) * c;
        if (sy < 0 || sy >= h || cx < 0 || cx >= w) {
          out.set(pad, at);
          continue;
        }
        const sx = draw.flip ? w - 1 - cx : cx;
        const from = base + (sy * w + sx) * c;
        if (table) for (let k = 0; k < c; k++) out[at + k] = table[k * 256 + x[from + k]!]!;
        else for (let k = 0; k < c; k++) out[at + k] = standardise(data, x[from + k]!, k);
      }
    }
  }
}
