import * as z from 'zod';
import { inputs } from '../ledger/index';

/**
 * The MCP tools' input and output schemas. Inputs reuse the ledger's command schemas (src/ledger/inputs.ts)
 * so a bad field gets the same message from a tool as from the CLI or the UI; they only differ where the
 * ledger uses `nullable` or unions, because Codex flattens `anyOf` in tool schemas and a model then sees
 * a wrong type. Every input object is strict: a misspelt key is reported instead of silently dropped.
 */

const text = (max: number) => z.string().max(max, `is longer than ${max} characters`);
const idOf = (what: string) => z.string().min(1, `give the ${what} id`).max(200, `${what} id is longer than 200 characters`);

const worker = inputs.claimSchema.shape.worker.describe('Your worker name, the same on every call for this node (for example "codex:<thread id>").');
const nodeId = idOf('node').describe('Node id as returned by workflow_start, ready_work or node_claim, e.g. "r-abc123.plan".');
const runId = idOf('run').describe('Run id as returned by workflow_start, e.g. "r-abc123".');
const cursor = text(1000).optional().describe('The nextCursor of the previous answer, to get the next page. Leave out for the first page.');
const limit = (what: string, max: number, dflt: number) => z.number().int('must be a whole number').min(1, 'must be at least 1').max(max, `must be at most ${max}`)
  .optional().describe(`At most this many ${what} (default ${dflt}); a page also ends before the answer passes 7 KB.`);
const textFrom = (field: string) => z.number().int('must be a whole number').min(0, 'must not be negative').max(1_000_000, 'must be at most 1000000').optional()
  .describe(`Show \`${field}\` from this character on, where an earlier answer clipped it (the clipped text says the number).`);

/** Bounds of the \`vars\` of a run: formula variables are text, true/false or a list of text. */
const VAR_LIMITS = { keys: 200, keyLength: 120, text: 20_000, items: 1000, itemText: 2000 } as const;

/**
 * Formula variables. Their values are of three types, but a union would be an \`anyOf\` that Codex flattens, so
 * the schema says "any" and the bounds are checked here; the formula layer then checks each variable's type.
 */
const vars = z.record(text(VAR_LIMITS.keyLength).min(1, 'a variable needs a name'), z.unknown()).superRefine((v, ctx) => {
  const keys = Object.keys(v);
  if (keys.length > VAR_LIMITS.keys) ctx.addIssue({ code: 'custom', message: `has ${keys.length} variables; at most ${VAR_LIMITS.keys}` });
  for (const k of keys) {
    const x = v[k];
    const bad = (message: string) => ctx.addIssue({ code: 'custom', path: [k], message });
    if (typeof x === 'string') {
      if (x.length > VAR_LIMITS.text) bad(`is longer than ${VAR_LIMITS.text} characters`);
    } else if (Array.isArray(x)) {
      if (x.length > VAR_LIMITS.items) bad(`has ${x.length} items; at most ${VAR_LIMITS.items}`);
      const i = x.findIndex((e) => typeof e !== 'string' || e.length > VAR_LIMITS.itemText);
      if (i >= 0) ctx.addIssue({ code: 'custom', path: [k, i], message: `a list variable holds text of at most ${VAR_LIMITS.itemText} characters` });
    } else if (typeof x !== 'boolean') {
      bad(`expected text, true/false or a list of text, received ${x === null ? 'null' : typeof x}`);
    }
  }
});

const leaseSeconds = inputs.claimSchema.shape.leaseSeconds.describe('How long the claim lasts before others may take the node over (default 900). Renew with node_renew.');

/** A gate without the ledger's `null`: leave `gate` out for no gate. */
const gate = z.strictObject({
  kind: inputs.gateSchema.shape.kind.describe('"human": a person opens it; "timer": opens after `seconds`; "run": waits for a run of `formula`.'),
  seconds: inputs.gateSchema.shape.seconds,
  formula: inputs.gateSchema.shape.formula,
});

export const planNode = z.strictObject({
  ...inputs.planNodeSchema.shape,
  key: inputs.planNodeSchema.shape.key.describe('Unique key of the node within the plan; its id becomes "<run id>.<key>".'),
  needs: inputs.planNodeSchema.shape.needs.describe('Keys of nodes (of this plan) that must be done before this one is ready.'),
  instructions: inputs.planNodeSchema.shape.instructions.describe('What the worker should do; shown to whoever claims the node.'),
  gate: gate.optional().describe('Hold the node until a gate opens. Leave out for no gate.'),
  review: inputs.planNodeSchema.shape.review.describe('When true, a reported node waits for a node_review verdict.'),
});

// ---- inputs ----------------------------------------------------------------------------------------

export const workflowStartInput = z.strictObject({
  family: text(200).min(1, 'name the formula family').optional()
    .describe('Formula family to run (see formula_list). The family\'s active variant is used unless `variantId` is given. Leave out to give an ad-hoc plan in `nodes`.'),
  variantId: idOf('variant').optional().describe('A specific variant of `family` to run.'),
  vars: vars.optional()
    .describe('Formula variables: text, true/false or a list of text, by name. Only with `family`.'),
  items: z.record(text(120).min(1, 'name the list variable'), z.array(text(2000)).max(1000, 'at most 1000 items')).refine((v) => Object.keys(v).length <= 50, 'at most 50 lists').optional()
    .describe('Lists for fan-out steps (for_each), by variable name. Only with `family`.'),
  taskKey: text(400).optional().describe('A stable key for the task (issue number, branch); runs of the same task get the same trial arm.'),
  title: text(200).min(1, 'give the run a title').optional().describe('Run title. Required for an ad-hoc plan; defaults to the family name for a formula.'),
  nodes: z.array(planNode).min(1, 'a run needs at least one node').max(5000, 'a run may have at most 5000 nodes').optional()
    .describe('An ad-hoc plan: nodes with unique keys, `needs` naming other keys. Leave out when running a formula family.'),
});

const nodeState = z.enum(['pending', 'ready', 'claimed', 'active', 'review', 'done', 'failed', 'blocked', 'skipped']);

export const workflowViewInput = z.strictObject({
  runId: runId.optional().describe('The run to show as a graph (nodes, edges, worker bindings), a page at a time. Leave out to list recent runs.'),
  states: z.array(nodeState).min(1, 'name at least one state').max(9, 'name at most 9 states').optional()
    .describe('With runId: only nodes in these states, e.g. ["ready","blocked","review"].'),
  status: z.enum(['running', 'done', 'failed', 'cancelled']).optional().describe('When listing runs: only runs with this status.'),
  family: text(200).optional().describe('When listing runs: only runs of this formula family.'),
  limit: limit('runs, or nodes of a run,', 500, 20),
  cursor,
});

export const readyWorkInput = z.strictObject({
  runId: runId.optional().describe('Only nodes of this run. Leave out for ready nodes of every running run.'),
  limit: limit('nodes', 1000, 20),
  cursor,
});

export const nodeClaimInput = z.strictObject({
  worker,
  nodeId: nodeId.optional().describe('The node to claim. Leave out to claim the oldest ready node (of `runId` if given).'),
  runId: runId.optional().describe('When `nodeId` is left out: claim the oldest ready node of this run.'),
  leaseSeconds,
});

export const nodeRenewInput = z.strictObject({ nodeId, worker, leaseSeconds });

export const nodeDispatchInput = z.strictObject({
  nodeId,
  worker,
  workerKind: inputs.dispatchSchema.shape.workerKind.describe('What kind of worker runs it (default "codex").'),
  threadId: inputs.dispatchSchema.shape.threadId.describe('The Codex thread id working on the node, bound to it so the work can be resumed and followed.'),
});

export const nodeReportInput = z.strictObject({
  nodeId,
  worker,
  outcome: inputs.reportSchema.shape.outcome.describe('"done" when the node\'s work is finished, "failed" when it could not be done (it is retried if attempts remain).'),
  summary: inputs.reportSchema.shape.summary.describe('What was done and where the result is; the next nodes read it.'),
  tokens: inputs.reportSchema.shape.tokens.describe('Tokens spent on the node, if known.'),
  durationMs: inputs.reportSchema.shape.durationMs.describe('Wall time spent on the node in milliseconds, if known.'),
});

export const gateOpenInput = z.strictObject({
  nodeId: nodeId.describe('The node whose gate to open (a human gate, an escalation, or a timer or run gate to open early).'),
  note: inputs.openGateSchema.shape.note.describe('The person\'s note: why it may go on, or what to do differently (kept with the node).'),
});

export const nodeReviewInput = z.strictObject({
  nodeId,
  verdict: inputs.reviewSchema.shape.verdict.describe('"approve" finishes the node; "reject" sends it back to be done again.'),
  note: inputs.reviewSchema.shape.note.describe('Why: what is missing or wrong, for the next attempt.'),
});

export const nodeRecoverInput = z.strictObject({
  nodeId: nodeId.optional().describe('The node to take back. Leave out to recover every node whose lease has expired.'),
  force: inputs.recoverSchema.shape.force.describe('Also break a live claim (only when you know its worker is gone).'),
  reason: inputs.recoverSchema.shape.reason.describe('Why the node is taken back.'),
});

export const nodeHandoffInput = z.strictObject({
  nodeId,
  fromWorker: inputs.handoffSchema.shape.fromWorker.describe('The worker that holds the node now (you).'),
  toWorker: inputs.handoffSchema.shape.toWorker.describe('The worker that takes it over.'),
  note: inputs.handoffSchema.shape.note.describe('What the next worker needs to know: state of the work, next steps.'),
  leaseSeconds,
});

export const nodeExpandInput = z.strictObject({
  nodeId,
  worker,
  children: z.array(planNode).min(1, 'give at least one child').max(500, 'give at most 500 children')
    .describe('Child nodes to fan out into (for example one per file). The expanded node is ready again once every child is done.'),
});

export const workerPeekInput = z.strictObject({
  worker: worker.optional().describe('Show the nodes this worker holds (claimed or active).'),
  nodeId: nodeId.optional().describe('Show this node: who holds it, its thread binding, its latest result and evidence.'),
  cursor: cursor.describe('The nextCursor of the previous answer: the next page of the nodes `worker` holds.'),
  evidenceCursor: cursor.describe('The evidenceNextCursor of the previous answer: the next page of the node\'s evidence.'),
  instructionsFrom: textFrom('instructions'),
  resultFrom: textFrom('result'),
});

export const evidenceRecordInput = z.strictObject({
  ...inputs.evidenceSchema.shape,
  runId: runId.optional().describe('The run the evidence is about (or give nodeId, or variantId).'),
  nodeId: nodeId.optional().describe('The node the evidence is about; its run is implied.'),
  variantId: idOf('variant').optional().describe('The formula variant the evidence is about, when there is no run.'),
  kind: inputs.evidenceSchema.shape.kind.describe('run_outcome needs `success`; intervention/review/tokens/duration carry their counts; note is free text.'),
});

export const workflowCancelInput = z.strictObject({
  runId,
  reason: inputs.cancelRunSchema.shape.reason.describe('Why the run is cancelled.'),
});

// ---- formula inputs ---------------------------------------------------------------------------------

const familyId = text(200).min(1, 'name the formula family').describe('Formula family id, e.g. "implement-and-review".');
const variantId = idOf('variant').describe('Variant id, e.g. "v-1a2b3c4d".');

export const formulaListInput = z.strictObject({
  family: familyId.optional().describe('List the variants of this family. Leave out to list the families.'),
  limit: limit('families or variants', 500, 20),
  cursor,
});

export const formulaViewInput = z.strictObject({
  variantId: variantId.optional().describe('The variant to show. Leave out and give `family` for its active variant.'),
  family: familyId.optional().describe('Show the active variant of this family.'),
  diff: z.boolean().optional().describe('Also show the diff against the parent variant (default true).'),
  formulaFrom: textFrom('formula'),
  diffFrom: textFrom('diff'),
});

/**
 * One structured edit of a formula, flat: `op` says which fields apply. Removal is written without
 * `null` (an empty `when`/`forEach`, gate kind "none", retry max 0, `after` "") and turned into the
 * formula layer's null by `toMutation`.
 */
export const flatMutation = z.strictObject({
  op: z.enum([
    'add_step', 'remove_step', 'reorder_step', 'edit_instructions', 'edit_title', 'set_needs', 'set_gate', 'set_retry',
    'set_condition', 'set_for_each', 'set_review', 'set_var', 'remove_var', 'set_description',
  ]).describe('The edit. add_step: stepId, instructions, title?, needs?, after?, review?. remove_step: stepId, rewire?. reorder_step: stepId, after. edit_instructions: stepId, instructions. edit_title: stepId, title. set_needs: stepId, needs. set_gate: stepId, gate. set_retry: stepId, retry. set_condition: stepId, when. set_for_each: stepId, forEach. set_review: stepId, review. set_var: name, spec. remove_var: name. set_description: description.'),
  stepId: text(120).min(1, 'name the step').optional().describe('The step the edit applies to (for add_step: the new step\'s id).'),
  title: text(200).optional().describe('Step title (add_step, edit_title).'),
  instructions: text(20_000).optional().describe('Step instructions (add_step, edit_instructions).'),
  needs: z.array(text(120)).max(500).optional().describe('Step ids this step needs (add_step, set_needs).'),
  after: text(120).optional().describe('Place the step after this step id; "" puts it first (add_step, reorder_step). add_step without it appends.'),
  rewire: z.boolean().optional().describe('remove_step: let the removed step\'s dependents need what it needed.'),
  review: z.boolean().optional().describe('Whether the step waits for a review verdict (add_step, set_review).'),
  when: text(2000).optional().describe('Condition such as "{{mode}} == \'careful\'"; "" removes it (set_condition).'),
  forEach: text(200).optional().describe('List variable to fan out over, e.g. "files"; "" removes it (set_for_each).'),
  gate: z.strictObject({
    kind: z.enum(['none', 'human', 'timer', 'run']).describe('"none" removes the gate.'),
    seconds: z.number().int().min(1).max(31 * 24 * 3600).optional().describe('For a timer gate.'),
    formula: text(200).optional().describe('For a run gate: the formula whose run it waits for.'),
  }).optional().describe('set_gate: the gate.'),
  retry: z.strictObject({
    max: z.number().int().min(0).max(100).describe('Extra attempts after the first; 0 removes the retry.'),
    onExhausted: z.enum(['fail', 'skip', 'escalate']).optional().describe('What happens when attempts run out (default fail).'),
  }).optional().describe('set_retry: the retry policy.'),
  name: text(120).min(1, 'name the variable').optional().describe('Variable name (set_var, remove_var).'),
  spec: z.strictObject({
    description: text(2000).optional(),
    default: text(20_000).optional().describe('Default value (text).'),
    required: z.boolean().optional(),
    enum: z.array(text(200)).max(200).optional().describe('Allowed values.'),
    pattern: text(500).optional().describe('Regular expression the value must match.'),
  }).optional().describe('set_var: the variable\'s specification.'),
  description: text(2000).optional().describe('set_description: the formula\'s new description.'),
});

export const formulaMutateInput = z.strictObject({
  variantId: variantId.describe('The variant to start from (usually the family\'s active variant, see formula_view).'),
  mutations: z.array(flatMutation).min(1, 'give at least one mutation').max(100, 'give at most 100 mutations')
    .describe('The edits, applied in order.'),
  summary: text(500).optional().describe('One line saying what the change is meant to improve.'),
  proposedBy: text(120).min(1).optional().describe('Who proposes it (defaults to the worker or "codex").'),
  // branch evidence: the rationale is kept on the variant and shown in the lineage.
  rationale: text(4000).min(1, 'say why the change should help, or leave rationale out').optional()
    .describe('Why this change should help: the evidence you read (formula_evidence figures, failing checks) and the failure it targets. Kept on the variant.'),
});

export const formulaAssessInput = z.strictObject({
  variantId: variantId.optional().describe('The variant to assess (usually a candidate). Leave out and give `family` for the candidate of its live trial.'),
  family: familyId.optional().describe('Assess the candidate of this family\'s live trial.'),
});

export const formulaSelectInput = z.strictObject({
  variantId: variantId.describe('The candidate variant to put on trial against the family\'s active variant.'),
  stage: z.enum(['screen', 'trial']).optional()
    .describe('"trial" (default): a share of new runs of the family use the candidate, sticky by taskKey. "screen": no live runs; paired replays first.'),
});

export const formulaPromoteInput = z.strictObject({
  variantId: variantId.describe('The variant to make active.'),
  reason: text(2000).min(1, 'say why the variant should become active').describe('Why: the evidence or the decision behind it. Kept with the decision.'),
  decidedBy: text(120).min(1).optional().describe('The person who decided, when you act for one (recorded with the decision).'),
});

export const formulaRollbackInput = z.strictObject({
  family: familyId.describe('The family to roll back to its previous active variant.'),
  reason: text(2000).min(1, 'say why the family is rolled back').describe('Why: what went wrong with the current variant.'),
});

export const lineageViewInput = z.strictObject({
  family: familyId.describe('The family whose lineage to show.'),
  limit: limit('variants', 500, 20),
  cursor,
});

// ---- outputs ----------------------------------------------------------------------------------------

const total = z.number().describe('How many rows the whole list has.');
const nextCursor = z.string().nullable().describe('Pass it as `cursor` to get the next page; null on the last page.');
const next = z.string().describe('What happens next and what to do, in words.');

/** Why a node waits and what moves it on (see explainWait). */
export const nodeWait = z.object({
  nodeId: z.string(),
  kind: z.enum(['human_gate', 'escalation', 'cancelled', 'timer_gate', 'run_gate', 'review', 'needs']),
  waitsFor: z.enum(['person', 'reviewer', 'time', 'run', 'nodes']),
  opensAt: z.string().optional(),
  text: z.string(),
});

/** A promotion decision that the call's write triggered (the family's rule acting on new evidence). */
export const promotionNote = z.object({
  familyId: z.string(), action: z.string(), decisionId: z.string().nullable(), text: z.string(),
});

export const nodeSummary = z.object({
  id: z.string(),
  runId: z.string(),
  stepId: z.string(),
  title: z.string(),
  state: nodeState,
  attempts: z.number(),
  maxAttempts: z.number(),
  worker: z.string().nullable(),
  leaseExpires: z.string().nullable(),
  review: z.boolean(),
  gate: z.object({ kind: z.string(), seconds: z.number().optional(), formula: z.string().optional() }).nullable(),
  gateOpen: z.boolean(),
  updatedAt: z.string(),
  waiting: z.string().nullable().describe('What the node waits for and who moves it on; null when it does not wait.'),
});

export const nodeDetail = nodeSummary.extend({
  instructions: z.string(),
  unmet: z.number(),
  onExhausted: z.string(),
  claimId: z.string().nullable(),
  result: z.string().nullable(),
  tokens: z.number(),
  durationMs: z.number(),
});

export const runSchema = z.object({
  id: z.string(),
  familyId: z.string().nullable(),
  variantId: z.string().nullable(),
  generation: z.number().nullable(),
  title: z.string(),
  vars: z.record(z.string(), z.unknown()),
  taskKey: z.string().nullable(),
  arm: z.string().nullable(),
  status: z.enum(['running', 'done', 'failed', 'cancelled']),
  outcome: z.enum(['success', 'failure']).nullable(),
  tokens: z.number(),
  durationMs: z.number(),
  interventions: z.number(),
  reviewRejections: z.number(),
  openNodes: z.number(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});

const edge = z.object({ from: z.string(), to: z.string(), kind: z.string() });
const binding = z.object({ nodeId: z.string(), workerKind: z.string(), threadId: z.string(), boundAt: z.string() });
const evidenceRow = z.object({
  id: z.string(), familyId: z.string().nullable(), variantId: z.string().nullable(), runId: z.string().nullable(), nodeId: z.string().nullable(),
  kind: z.string(), success: z.boolean().nullable(), interventions: z.number().nullable(), reviewRejections: z.number().nullable(),
  tokens: z.number().nullable(), durationMs: z.number().nullable(), note: z.string(), actor: z.string(), at: z.string(),
});

export const workflowStartOutput = z.object({
  runId: z.string(),
  title: z.string(),
  familyId: z.string().nullable(),
  variantId: z.string().nullable(),
  generation: z.number().nullable(),
  arm: z.string().nullable(),
  nodeCount: z.number(),
  nodeIds: z.array(z.string()).describe('The first node ids (all of them when nodeCount is small); workflow_view shows every node.'),
  ...readyPart(),
});

export const workflowViewOutput = z.object({
  run: runSchema.optional(),
  nodes: z.array(nodeSummary).optional().describe('A page of the run\'s nodes (those in `states` when given), in creation order.'),
  edges: z.array(edge).optional().describe('The edges into the nodes of this page.'),
  bindings: z.array(binding).optional().describe('Thread bindings of the nodes of this page.'),
  runs: z.array(runSchema).optional(),
  total,
  nextCursor,
  next: next.optional(),
});

export const readyWorkOutput = z.object({ nodes: z.array(nodeSummary), total, nextCursor, next });

export const nodeClaimOutput = z.object({
  claimed: z.boolean(),
  claimId: z.string().nullable(),
  expiresAt: z.string().nullable(),
  node: nodeDetail.nullable().describe('The claimed node with its instructions; null when nothing was ready.'),
  next,
});

export const nodeRenewOutput = z.object({ nodeId: z.string(), expiresAt: z.string() });
export const nodeStateOutput = z.object({ nodeId: z.string(), state: nodeState, runStatus: z.string(), ...readyPart() });
export const nodeReportOutput = nodeStateOutput;
export const nodeDispatchOutput = z.object({ nodeId: z.string(), state: nodeState, threadId: z.string().nullable() });
export const nodeRecoverOutput = z.object({ recovered: z.array(z.string()) });
export const nodeHandoffOutput = z.object({ nodeId: z.string(), claimId: z.string(), handoffId: z.string(), toWorker: z.string() });
export const nodeExpandOutput = z.object({ nodeId: z.string(), childIds: z.array(z.string()), ...readyPart() });

export const workerPeekOutput = z.object({
  worker: z.string().nullable(),
  held: z.array(nodeSummary).describe('Nodes the worker holds (claimed or active), when `worker` was given: a page.'),
  total: total.describe('How many nodes the worker holds.'),
  nextCursor,
  node: nodeDetail.nullable(),
  bindings: z.array(binding),
  evidence: z.array(evidenceRow).describe('The node\'s evidence, newest first: a page.'),
  evidenceTotal: z.number(),
  evidenceNextCursor: z.string().nullable().describe('Pass it as `evidenceCursor` for the next page of evidence.'),
});

export const evidenceRecordOutput = z.object({ evidenceId: z.string(), runId: z.string().nullable(), variantId: z.string().nullable() });
export const workflowCancelOutput = z.object({ runId: z.string(), status: z.string() });

const familyRow = z.object({
  id: z.string(), description: z.string(), activeVariantId: z.string().nullable(), activeGeneration: z.number().nullable(),
  variantCount: z.number(), candidateCount: z.number(), policyVersion: z.number().nullable(), policyHash: z.string().nullable(),
});

const variantRow = z.object({
  id: z.string(), familyId: z.string(), generation: z.number(), parents: z.array(z.string()), mutation: z.unknown(), summary: z.string(),
  rationale: z.string().nullable().optional(), proposedBy: z.string(), contentHash: z.string(), status: z.enum(['candidate', 'trial', 'active', 'retired', 'rejected']),
  statusReason: z.string().nullable(), createdAt: z.string(), runs: z.number(), finishedRuns: z.number(), successes: z.number(),
});

export const formulaListOutput = z.object({
  families: z.array(familyRow).optional(),
  family: familyRow.optional(),
  variants: z.array(variantRow).optional(),
  total,
  nextCursor,
});

export const formulaViewOutput = z.object({
  variant: variantRow,
  active: z.boolean(),
  formula: z.string().describe('The variant\'s canonical formula text (TOML): exactly what its runs instantiate.'),
  diff: z.string().nullable(),
});

export const formulaMutateOutput = z.object({
  variantId: z.string(), familyId: z.string(), generation: z.number(), created: z.boolean(), summary: z.string(), diff: z.string(),
  evolutionFile: z.string().nullable(),
});

export const selectionOutput = z.object({ familyId: z.string(), variantId: z.string(), previousVariantId: z.string().nullable() });

const armStats = z.object({
  runs: z.number(), successes: z.number(), interventions: z.number(), reviewRejections: z.number(), tokens: z.number(), durationMs: z.number(),
  falseDone: z.number().optional().describe('Runs the model called done whose checks failed.'),
});

export const trialRow = z.object({
  id: z.string(), familyId: z.string(), candidateId: z.string(), incumbentId: z.string(), stage: z.enum(['screen', 'trial', 'watch']),
  share: z.number(), status: z.enum(['open', 'paused', 'confirmed', 'rejected', 'rolled_back', 'superseded']), startedSeq: z.number(),
  startedAt: z.string(), endedAt: z.string().nullable(),
});

const decisionSummary = z.object({
  id: z.string(), candidateId: z.string(), incumbentId: z.string().nullable(), trialId: z.string().nullable(), stage: z.string(),
  verdict: z.string(), actor: z.string(), reason: z.string(), policyVersion: z.number().nullable(), at: z.string(),
});

export const formulaAssessOutput = z.object({
  variantId: z.string(),
  familyId: z.string(),
  status: z.enum(['candidate', 'trial', 'active', 'retired', 'rejected']),
  trial: trialRow.nullable(),
  stage: z.enum(['screen', 'trial', 'watch']),
  arms: z.object({ incumbent: armStats, candidate: armStats }),
  statistics: z.object({
    probBetter: z.number().describe('P(candidate\'s success rate > incumbent\'s).'),
    expectedLoss: z.number().describe('Success rate expected to be lost by choosing the candidate.'),
    sprtLLR: z.number().nullable(),
    sprtVerdict: z.string().nullable(),
    pairs: z.object({ pairs: z.number(), wins: z.number(), losses: z.number(), ties: z.number() }).nullable(),
    replayEvidence: z.number().nullable().optional()
      .describe('In the screen: the evidence ratio of the candidate\'s replays against the incumbent\'s history; it promotes at 1 / falsePromotionRate.'),
  }).describe('The numbers behind the verdict (the decision record keeps the full set).'),
  guardrails: z.array(z.object({
    name: z.string(), enabled: z.boolean(), incumbent: z.number().nullable(), candidate: z.number().nullable(), worsening: z.number().nullable(),
    bound: z.number(), status: z.string(),
  })),
  verdict: z.enum(['promote', 'reject', 'continue', 'pause', 'rollback']).describe('What the recorded rule would decide now.'),
  reason: z.string(),
  missing: z.array(z.string()).describe('Evidence still needed before the rule can decide, in plain words.'),
  policyVersion: z.number(),
  policyHash: z.string(),
  decisions: z.array(decisionSummary).describe('The family\'s latest recorded decisions, oldest first.'),
});

export const evaluationOutput = z.object({
  familyId: z.string(),
  trialId: z.string().nullable(),
  action: z.string().describe('What happened: promoted, rejected, rolled_back, ...'),
  verdict: z.string().nullable(),
  decisionId: z.string().nullable(),
  reason: z.string(),
  activeVariantId: z.string().nullable().describe('The family\'s active variant afterwards.'),
});

export const lineageViewOutput = z.object({
  familyId: z.string(),
  activeVariantId: z.string().nullable(),
  variants: z.array(variantRow).describe('A page of the variants, by generation.'),
  total,
  nextCursor,
  edges: z.array(z.object({ parent: z.string(), child: z.string() })).describe('The parent edges of the variants of this page.'),
  selections: z.array(z.object({
    seq: z.number(), variantId: z.string(), previousVariantId: z.string().nullable(), reason: z.string(), actor: z.string(), at: z.string(),
  })).describe('The latest changes of the active variant, oldest first.'),
  selectionsTotal: z.number(),
});

/** The ready nodes and the waits of a run after a write to it. */
function readyPart() {
  return {
    ready: z.array(nodeSummary).describe('The first nodes of the run that can be claimed now.'),
    readyTotal: z.number().describe('How many nodes of the run are ready.'),
    readyNextCursor: z.string().nullable().describe('Pass it to ready_work with the same runId as `cursor` for the ready nodes not shown.'),
    waiting: z.array(nodeWait).describe('Nodes of the run that wait for a person, a reviewer, a time or another run (the first few).'),
    next,
  };
}
