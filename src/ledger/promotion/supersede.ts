import { event } from '../events';
import type { Sql } from '../store/sql';
import type { NewEvent } from '../store/store';
import type { RawTrial } from './measurement';

/** Trial statuses that still compare their arms: open, or paused for a person. */
export const LIVE_TRIAL_STATUSES = "('open', 'paused')";

/**
 * The events that end a family's live trial because its active variant is, or is about to be, `active`,
 * which the trial did not choose: a trial compares a candidate with the incumbent that is active (the
 * candidate, once promoted and watched), so a person's selection or rollback outside the rule leaves it
 * comparing something else. The trial ends as `superseded`, and a candidate that was not made active
 * goes back to `candidate`. Returns `null` when the family has no live trial or it still holds.
 *
 * Called in the same commit as a change of the active variant by hand (FormulaService.activationEvents),
 * so no decision can act on a stale trial in between, and by the rule's evaluation for ledgers written
 * before that (PromotionService.plan).
 */
export function supersededTrialEvents(sql: Sql, familyId: string, active: string | null): { trial: RawTrial; events: NewEvent[] } | null {
  const t = sql.get<RawTrial>(`SELECT * FROM trials WHERE family_id = ? AND status IN ${LIVE_TRIAL_STATUSES} ORDER BY started_seq DESC LIMIT 1`, [familyId]);
  if (!t) return null;
  const expected = t.stage === 'watch' ? t.candidate_id : t.incumbent_id;
  if (active === expected) return null;
  const events: NewEvent[] = [event('trial.ended', { trialId: t.id, status: 'superseded' })];
  if (t.stage !== 'watch' && active !== t.candidate_id) {
    events.push(event('variant.status_changed', { variantId: t.candidate_id, status: 'candidate', reason: `trial ${t.id} superseded: ${active} was made active` }));
  }
  return { trial: t, events };
}
