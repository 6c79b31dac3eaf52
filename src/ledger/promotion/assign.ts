// Trial assignment: which arm runs a task. It is sticky by task so a retried or resumed task keeps
// its variant, and it depends on the candidate id so each new candidate gets a fresh split.
import { createHash } from 'node:crypto';

export type Arm = 'candidate' | 'incumbent';

/** A deterministic value in [0, 1) for (taskKey, candidateVariantId). */
export function assignmentPoint(taskKey: string, candidateVariantId: string): number {
  // The NUL separator keeps ("ab", "c") and ("a", "bc") apart.
  const digest = createHash('sha256').update(`${taskKey}\u0000${candidateVariantId}`).digest();
  // 48 bits fit exactly in a double, so the division is exact and never reaches 1.
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** Routes a task to the candidate when its point falls below the trial share. */
export function assignArm(taskKey: string, candidateVariantId: string, share: number): Arm {
  if (!(share >= 0 && share <= 1)) throw new RangeError(`share must be in [0, 1], got ${share}`);
  return assignmentPoint(taskKey, candidateVariantId) < share ? 'candidate' : 'incumbent';
}
