// Source text and positions. Every phase works with offsets; lines and columns are made
// only at the edge (the CLI, an editor), from the line table kept here.

/** A half-open span of UTF-16 offsets into one source text: [start, end). */
export interface Range {
  readonly start: number;
  readonly end: number;
}

/** A 1-based line and column; columns count Unicode code points, as editors do. */
export interface Position {
  readonly line: number;
  readonly column: number;
}

export class SourceFile {
  /** Offset at which each line starts; lineStarts[0] is always 0. */
  private readonly lineStarts: number[];

  constructor(
    /** Absolute path, the file's identity. */
    readonly path: string,
    readonly text: string,
  ) {
    this.lineStarts = [0];
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
    }
  }

  position(offset: number): Position {
    const clamped = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= clamped) lo = mid;
      else hi = mid - 1;
    }
    // A byte-order mark is no column: editors do not show it.
    const lineStart = lo === 0 && this.text.charCodeAt(0) === 0xfeff ? Math.min(1, clamped) : this.lineStarts[lo]!;
    return { line: lo + 1, column: codePointCount(this.text, lineStart, clamped) + 1 };
  }

  /** The 1-based line number of an offset. */
  line(offset: number): number {
    return this.position(offset).line;
  }
}

function codePointCount(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low one is a single code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < to) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}
