export { Ledger } from './ledger';
export type { BindingRow, EdgeRow, EvidenceRow, LedgerOptions, NodeRow, RunRow } from './ledger';
export { LedgerError, errorMessage } from './errors';
export type { LedgerErrorCode } from './errors';
export type { EdgeKind, GateSpec, NodeState, VariantStatus } from './events';
export { resolveLedgerDir, writeLedgerPointer, POINTER_FILE, DEFAULT_LEDGER_DIR } from './location';
export type { StoredEvent } from './store/journal';
export type { StoreChange } from './store/store';
export * as inputs from './inputs';

import { Ledger } from './ledger';
import type { LedgerOptions } from './ledger';

/** Opens (creating if needed) the ledger stored in `dir`. */
export function openLedger(dir: string, options: LedgerOptions = {}): Promise<Ledger> {
  return Ledger.open(dir, options);
}

export { FormulaService, formatVariant } from './families';
export type { ActiveChange, ActiveChangeDetail, ActiveChangeResult, ActiveChangeVerdict, FamilyRow, Lineage, SelectionRow, VariantChooser, VariantRow } from './families';
export { PromotionService, REPLAY_ARM } from './promotion/service';
export type {
  Assessment, DecisionDetail, DecisionRecord, EvaluationAction, EvaluationResult, PersonDecision, PolicyRecord, RecordedVerdict, TrialRow,
  TrialStage, TrialStatus,
} from './promotion/service';

// branch overlays (issue 13): blackboard, contract net, coalitions, mail.
export * from './overlays/index';
