// The tools by group, as the reference "everything" MCP server keeps them (src/everything/tools/*): one file per
// group, this index to gather them.
export { FORMULA_TOOLS } from './formula';
export { PROMOTION_TOOLS } from './promotion';
export { summarize } from './shared';
export type { ToolContext, ToolDefinition } from './shared';
export { WORKFLOW_TOOLS } from './workflow';
// branch overlays (issue 13): blackboard, contract net, coalitions, mail.
export { OVERLAY_TOOLS, overlaySection, overlaysOf } from './overlays';
// branch replay
export { REPLAY_TOOLS } from './replay';
