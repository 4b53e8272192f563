// The types of `.lth` values (LANGUAGE.md, Types) and the static values the checker
// knows before anything runs: literals, and lists whose length is fixed by the text.

import type { DurationUnit } from "./ast.js";

export type Type =
  | { readonly kind: "Int" }
  | { readonly kind: "Number" }
  | { readonly kind: "Percent" }
  | { readonly kind: "Duration" }
  | { readonly kind: "String" }
  | { readonly kind: "Bool" }
  | { readonly kind: "Enum"; readonly values: readonly string[] }
  /** `replicates`: the value of a `replicate` block, shown as `Replicates<T>`; a list everywhere else. */
  | { readonly kind: "List"; readonly element: Type; readonly replicates?: true }
  | { readonly kind: "Dataset" }
  | { readonly kind: "Arch" }
  | { readonly kind: "Net" }
  | { readonly kind: "Metrics" }
  /** A type variable of a generic op, `T` in `last(xs: List<T>) -> T`. */
  | { readonly kind: "Var"; readonly name: string }
  /** The element type of `[]`: fits any list. */
  | { readonly kind: "Empty" }
  /** The type of something already reported as wrong; fits everything, so one mistake is one error. */
  | { readonly kind: "Unknown" };

export const Int = { kind: "Int" } as const;
export const Num = { kind: "Number" } as const;
export const Percent = { kind: "Percent" } as const;
export const Duration = { kind: "Duration" } as const;
export const Str = { kind: "String" } as const;
export const Bool = { kind: "Bool" } as const;
export const Dataset = { kind: "Dataset" } as const;
export const Arch = { kind: "Arch" } as const;
export const Net = { kind: "Net" } as const;
export const Metrics = { kind: "Metrics" } as const;
export const Unknown = { kind: "Unknown" } as const;
export const Empty = { kind: "Empty" } as const;

export function enumOf<const V extends readonly string[]>(...values: V): { readonly kind: "Enum"; readonly values: V } {
  return { kind: "Enum", values };
}

export function listOf<const E extends Type>(element: E): { readonly kind: "List"; readonly element: E } {
  return { kind: "List", element };
}

export function typeVar<const N extends string>(name: N): { readonly kind: "Var"; readonly name: N } {
  return { kind: "Var", name };
}

export function showType(t: Type): string {
  switch (t.kind) {
    case "Enum":
      return t.values.join("|");
    case "List":
      return `${t.replicates ? "Replicates" : "List"}<${showType(t.element)}>`;
    case "Var":
      return t.name;
    case "Empty":
      return "Nothing";
    default:
      return t.kind;
  }
}

/** "an Int", "a Net": the type with its article, for messages. */
export function aType(t: Type): string {
  if (t.kind === "Enum") return `one of ${t.values.join(", ")}`;
  if (t.kind === "List" && t.element.kind === "Empty") return "an empty list";
  // `List<T>` means nothing to a reader of a message: any list will do.
  const shown = t.kind === "List" && t.element.kind === "Var" ? "List" : showType(t);
  return /^[AEIOU]/.test(shown) ? `an ${shown}` : `a ${shown}`;
}

/** Type variables bound while matching a generic op's parameters. */
export type Bindings = Map<string, Type>;

/**
 * Whether a value of type `actual` may stand where `expected` is required. An Int is a
 * Number; `Unknown` fits everything so that one mistake is reported once.
 */
export function assignable(actual: Type, expected: Type, bindings: Bindings = new Map()): boolean {
  if (actual.kind === "Unknown" || expected.kind === "Unknown") return true;
  if (expected.kind === "Var") {
    const bound = bindings.get(expected.name);
    if (!bound || bound.kind === "Empty") {
      bindings.set(expected.name, actual);
      return true;
    }
    if (assignable(actual, bound, bindings)) return true;
    if (assignable(bound, actual, bindings)) {
      bindings.set(expected.name, actual);
      return true;
    }
    return false;
  }
  if (actual.kind === "Empty") return true;
  switch (expected.kind) {
    case "Number":
      return actual.kind === "Number" || actual.kind === "Int";
    case "Enum":
      return actual.kind === "Enum" && actual.values.every((v) => expected.values.includes(v));
    case "List":
      return actual.kind === "List" && assignable(actual.element, expected.element, bindings);
    default:
      return actual.kind === expected.kind;
  }
}

/** The smallest type both fit (`[1, 2.5]` is a List<Number>), or undefined when none. */
export function join(a: Type, b: Type): Type | undefined {
  // Enum values of one list make one enum: [snip, grasp] is a List<snip|grasp>.
  if (a.kind === "Enum" && b.kind === "Enum") return enumOf(...b.values, ...a.values.filter((v) => !b.values.includes(v)));
  if (assignable(a, b) && a.kind !== "Unknown") return b.kind === "Empty" ? a : b;
  if (assignable(b, a)) return a;
  return undefined;
}

export function substitute(t: Type, bindings: Bindings): Type {
  if (t.kind === "Var") {
    const bound = bindings.get(t.name);
    return bound && bound.kind !== "Empty" ? bound : Unknown;
  }
  if (t.kind === "List") return listOf(substitute(t.element, bindings));
  return t;
}

// ---- static values ------------------------------------------------------------------

/**
 * A value known from the text alone. The compiler normalises parameters into these, so
 * they are also what a stage key is made of.
 */
export type Value =
  | { readonly kind: "Int"; readonly value: number }
  | { readonly kind: "Number"; readonly value: number }
  /** In percent: 20% is 20. */
  | { readonly kind: "Percent"; readonly value: number }
  | { readonly kind: "Duration"; readonly count: number; readonly unit: DurationUnit }
  | { readonly kind: "String"; readonly value: string }
  | { readonly kind: "Bool"; readonly value: boolean }
  | { readonly kind: "Enum"; readonly value: string }
  | { readonly kind: "List"; readonly items: readonly Value[] };

export function showValue(v: Value): string {
  switch (v.kind) {
    case "Percent":
      return `${v.value}%`;
    case "Duration":
      return `${v.count} ${v.count === 1 ? v.unit.slice(0, -1) : v.unit}`;
    case "String":
      return JSON.stringify(v.value);
    case "Bool":
    case "Enum":
      return String(v.value);
    case "List":
      return `[${v.items.map(showValue).join(", ")}]`;
    default:
      return String(v.value);
  }
}

/** The number a range applies to: a Percent in percent, a Duration's count. */
export function magnitude(v: Value): number | undefined {
  switch (v.kind) {
    case "Int":
    case "Number":
    case "Percent":
      return v.value;
    case "Duration":
      return v.count;
    default:
      return undefined;
  }
}

export function typeOfValue(v: Value): Type {
  switch (v.kind) {
    case "Enum":
      return enumOf(v.value);
    case "List": {
      let element: Type = Empty;
      for (const item of v.items) element = join(element, typeOfValue(item)) ?? Unknown;
      return listOf(element);
    }
    default:
      return { kind: v.kind };
  }
}
