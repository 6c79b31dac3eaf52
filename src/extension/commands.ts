// Every command the extension contributes, in one table: ids, titles and where they show. Plain data (no vscode
// import) so a unit test can hold it against package.json's contributions.

export interface CommandSpec {
  readonly id: `gascity.${string}`;
  readonly title: string;
  /** Codicon shown for inline / view-title actions. */
  readonly icon?: `$(${string})`;
  /** False hides the command from the command palette (it needs a tree item or a graph to act on). */
  readonly palette: boolean;
}

export const CATEGORY = 'Gas City';

export const COMMANDS = {
  startRun: { id: 'gascity.startRun', title: 'Start Run', icon: '$(play)', palette: true },
  mutateFormula: { id: 'gascity.mutateFormula', title: 'Mutate Formula', icon: '$(beaker)', palette: true },
  promoteVariant: { id: 'gascity.promoteVariant', title: 'Promote Variant', icon: '$(arrow-up)', palette: true },
  rollbackFamily: { id: 'gascity.rollbackFamily', title: 'Roll Back Family', icon: '$(discard)', palette: true },
  registerMcpServer: { id: 'gascity.registerMcpServer', title: 'Register MCP Server with Codex', palette: true },
  unregisterMcpServer: { id: 'gascity.unregisterMcpServer', title: 'Unregister MCP Server from Codex', palette: true },
  openLedgerGraph: { id: 'gascity.openLedgerGraph', title: 'Open Ledger Graph', icon: '$(type-hierarchy)', palette: true },
  importFormulas: { id: 'gascity.importFormulas', title: 'Import Formulas', icon: '$(cloud-download)', palette: true },
  exportEvolution: { id: 'gascity.exportEvolution', title: 'Export Evolution Files', icon: '$(save-all)', palette: true },
  openLineage: { id: 'gascity.openLineage', title: 'Open Lineage Graph', icon: '$(type-hierarchy)', palette: false },
  openRunGraph: { id: 'gascity.openRunGraph', title: 'Open Run Graph', icon: '$(graph)', palette: false },
  openVariant: { id: 'gascity.openVariant', title: 'Open Variant Formula', icon: '$(go-to-file)', palette: false },
  diffVariant: { id: 'gascity.diffVariant', title: 'Compare Variant with Parent', icon: '$(diff)', palette: false },
  startTrial: { id: 'gascity.startTrial', title: 'Start Trial of Variant', icon: '$(pulse)', palette: true },
  assessVariant: { id: 'gascity.assessVariant', title: 'Assess Variant', icon: '$(graph-line)', palette: true },
  rejectVariant: { id: 'gascity.rejectVariant', title: 'Reject Variant', icon: '$(close)', palette: true },
  markRunResult: { id: 'gascity.markRunResult', title: 'Mark Run Result', icon: '$(pass)', palette: true },
  runNodeWithCodex: { id: 'gascity.runNodeWithCodex', title: 'Run Node with Codex', icon: '$(rocket)', palette: true },
  runWithCodex: { id: 'gascity.runWithCodex', title: 'Run with Codex', icon: '$(run-all)', palette: true },
  openGate: { id: 'gascity.openGate', title: 'Open Gate', icon: '$(unlock)', palette: true },
  approveNode: { id: 'gascity.approveNode', title: 'Approve', icon: '$(check)', palette: true },
  requestChanges: { id: 'gascity.requestChanges', title: 'Request Changes', icon: '$(comment-discussion)', palette: true },
  cancelNode: { id: 'gascity.cancelNode', title: 'Cancel Node', icon: '$(debug-stop)', palette: false },
  cancelRun: { id: 'gascity.cancelRun', title: 'Cancel Run', icon: '$(close-all)', palette: true },
  refresh: { id: 'gascity.refresh', title: 'Refresh', icon: '$(refresh)', palette: true },
  showLog: { id: 'gascity.showLog', title: 'Show Log', palette: true },
  // branch views (issues 13 and 14): mail, and the formula evidence of a family.
  readMail: { id: 'gascity.readMail', title: 'Read Mail', icon: '$(mail-read)', palette: true },
  sendMail: { id: 'gascity.sendMail', title: 'Send Mail', icon: '$(mail)', palette: true },
  formulaEvidence: { id: 'gascity.formulaEvidence', title: 'Formula Evidence', icon: '$(flame)', palette: true },
  // branch replay: the replay lab and run worktrees (src/extension/replay.ts)
  replayVariant: { id: 'gascity.replayVariant', title: 'Replay Variant', icon: '$(debug-rerun)', palette: true },
  mergeRunWorktree: { id: 'gascity.mergeRunWorktree', title: 'Merge Run Worktree', icon: '$(git-merge)', palette: true },
  discardRunWorktree: { id: 'gascity.discardRunWorktree', title: 'Discard Run Worktree', icon: '$(trash)', palette: true },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;

export const VIEW_CONTAINER = 'gascity';
export const VIEWS = {
  families: 'gascity.families',
  runs: 'gascity.runs',
} as const;

/** contextValue of tree items, matched by the `when` clauses of inline actions in package.json. */
export const TREE_CONTEXT = {
  family: 'family',
  variant: (status: string, isActive: boolean): string => `variant.${isActive ? 'active' : status}`,
  /**
   * `run.done`, or `run.done.worktree.open` when the run's worktree waits for a person (Merge and Discard show
   * on it); other worktree states add their name (`run.done.worktree.merged`) and offer neither.
   */
  run: (status: string, worktree?: string): string => `run.${status}${worktree && worktree !== 'working' ? `.worktree.${worktree}` : ''}`,
  /** The state is part of it so that "Run Node with Codex" shows only on ready nodes. */
  node: (state: string): string => `node.${state}`,
  /** The "Needs you" group and its rows: `needs.open_gate` or `needs.review` choose the inline answers. */
  needsGroup: 'needs',
  needs: (action: string): string => `needs.${action}`,
} as const;
