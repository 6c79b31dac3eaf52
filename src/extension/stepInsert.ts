// The mutations of "Add a step" in the Mutate Formula command. Pure (no vscode import) so the result is checked
// against the real mutation code in a unit test.
import type { Mutation } from '../ledger/formula/index';

/** The part of a formula's step the insertion needs. */
export interface StepLinks {
  readonly id: string;
  readonly needs: readonly string[];
}

/**
 * Adds a step right after `after`, in line: it needs `after`, and every step that needed `after` now needs it instead,
 * so the new step is part of the flow rather than a branch nothing waits for. A step that already needs the new
 * step's position through another path keeps its other needs as they were.
 */
export function insertStepMutations(steps: readonly StepLinks[], after: string, step: { readonly id: string; readonly title: string; readonly instructions: string }): Mutation[] {
  const out: Mutation[] = [{ op: 'add_step', after, step: { id: step.id, title: step.title, instructions: step.instructions, needs: [after] } }];
  for (const s of steps) {
    if (s.id === step.id || !s.needs.includes(after)) continue;
    out.push({ op: 'set_needs', stepId: s.id, needs: s.needs.map((n) => (n === after ? step.id : n)) });
  }
  return out;
}

/** Whether the followers of `after` (steps that need it) exist: for the question's wording. */
export function followersOf(steps: readonly StepLinks[], after: string): string[] {
  return steps.filter((s) => s.needs.includes(after)).map((s) => s.id);
}
