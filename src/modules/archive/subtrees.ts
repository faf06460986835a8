/** Subtrees below this level are recomputed from leaves when a proof needs them (at most 2^4 leaf reads each). */
export const SUBTREE_MIN_LEVEL = 4;
