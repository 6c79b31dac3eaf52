// The coordination overlays (issue 13): a run's blackboard, contract-net allocation, coalitions and mail, as
// events in the ledger replayed like the rest. docs/overlays.md describes the events, tables and rules.
export { OverlayService, TURN_MAIL_LIMIT } from './service';
export { AWARD_RULE, rankBids, scoreOf } from './award';
export type { BidForAward } from './award';
export { GLOB_LIMITS, checkGlob, claimMatcher, workspacePath } from './globs';
export * as overlayInputs from './inputs';
export { BLACKBOARD_KINDS, MAIL_ADDRESS_KINDS } from './inputs';
export { OVERLAY_EVENT_KINDS } from './projection';
export type { OverlayEventKind } from './projection';
export type {
  BidRow, BlackboardEntry, NodeOverlay, BlackboardKind, CoalitionRow, CoalitionStatus, ComparedBid, MailAddressKind, MailRow, OverlapRow, PartnershipRow, RoundRow,
  RoundStatus, RunOverlays,
} from './types';
