// The domain's error types. An expected failure is the user's to fix (bad data, nets that do
// not fit together, a schedule that cannot be run) and is reported as its message alone;
// anything else is a bug in lth and keeps its stack.

/** An expected failure of a stage (bad data, incompatible nets): a message for the user, not a bug. */
export class OpFailure extends Error {}

/** A stored artifact that is not what its kind says (a net file without an lth net's metadata). */
export class ArtifactFormatError extends Error {}
