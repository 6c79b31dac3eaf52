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
  vars: z.record(z.string(), z.unknown()).optional()
    .describe('Formula variables: text, true/false or a list of text, by name. Only with `family`.'),
  items: z.record(z.string(), z.array(text(2000)).max(1000)).optional()
    .describe('Lists for fan-out steps (for_each), by variable name. Only with `family`.'),
  taskKey: text(400).optional().describe('A stable key for the task (issue number, branch); runs of the same task get the same trial arm.'),
  title: text(200).min(1, 'give the run a title').optional().describe('Run title. Required for an ad-hoc plan; defaults to the family name for a formula.'),
  nodes: z.array(planNode).min(1, 'a run needs at least one node').max(5000, 'a run may have at most 5000 nodes').optional()
    .describe('An ad-hoc plan: nodes with unique keys, `needs` naming other keys. Leave out when running a formula family.'),
});

export const workflowViewInput = z.strictObject({
  runId: runId.optional().describe('The run to show as a graph (nodes, edges, worker bindings). Leave out to list recent runs.'),
  status: z.enum(['running', 'done', 'failed', 'cancelled']).optional().describe('When listing runs: only runs with this status.'),
  family: text(200).optional().describe('When listing runs: only runs of this formula family.'),
  limit: z.number().int('must be a whole number').min(1, 'must be at least 1').max(500, 'must be at most 500').optional().describe('When listing runs: at most this many (default 50).'),
});

export const readyWorkInput = z.strictObject({
  runId: runId.optional().describe('Only nodes of this run. Leave out for ready nodes of every running run.'),
  limit: z.number().int('must be a whole number').min(1, 'must be at least 1').max(1000, 'must be at most 1000').optional().describe('At most this many nodes (default 50).'),
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
});

export const formulaViewInput = z.strictObject({
  variantId: variantId.optional().describe('The variant to show. Leave out and give `family` for its active variant.'),
  family: familyId.optional().describe('Show the active variant of this family.'),
  diff: z.boolean().optional().describe('Also show the diff against the parent variant (default true).'),
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

export const lineageViewInput = z.strictObject({ family: familyId.describe('The family whose lineage to show.') });

// ---- outputs ----------------------------------------------------------------------------------------

const nodeState = z.enum(['pending', 'ready', 'claimed', 'active', 'review', 'done', 'failed', 'blocked', 'skipped']);

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
  nodeIds: z.array(z.string()),
  ready: z.array(nodeSummary).describe('Nodes that can be claimed now.'),
});

export const workflowViewOutput = z.object({
  run: runSchema.optional(),
  nodes: z.array(nodeSummary).optional(),
  edges: z.array(edge).optional(),
  bindings: z.array(binding).optional(),
  runs: z.array(runSchema).optional(),
});

export const readyWorkOutput = z.object({ nodes: z.array(nodeSummary) });

export const nodeClaimOutput = z.object({
  claimed: z.boolean(),
  claimId: z.string().nullable(),
  expiresAt: z.string().nullable(),
  node: nodeDetail.nullable().describe('The claimed node with its instructions; null when nothing was ready.'),
});

export const nodeRenewOutput = z.object({ nodeId: z.string(), expiresAt: z.string() });
export const nodeStateOutput = z.object({ nodeId: z.string(), state: nodeState, runStatus: z.string() });
export const nodeReportOutput = nodeStateOutput.extend({ ready: z.array(nodeSummary).describe('Nodes of the run that can be claimed now.') });
export const nodeDispatchOutput = z.object({ nodeId: z.string(), state: nodeState, threadId: z.string().nullable() });
export const nodeRecoverOutput = z.object({ recovered: z.array(z.string()) });
export const nodeHandoffOutput = z.object({ nodeId: z.string(), claimId: z.string(), handoffId: z.string(), toWorker: z.string() });
export const nodeExpandOutput = z.object({ nodeId: z.string(), childIds: z.array(z.string()), ready: z.array(nodeSummary) });

export const workerPeekOutput = z.object({
  worker: z.string().nullable(),
  held: z.array(nodeSummary).describe('Nodes the worker holds (claimed or active), when `worker` was given.'),
  node: nodeDetail.nullable(),
  bindings: z.array(binding),
  evidence: z.array(evidenceRow),
});

export const evidenceRecordOutput = z.object({ evidenceId: z.string(), runId: z.string().nullable(), variantId: z.string().nullable() });
export const workflowCancelOutput = z.object({ runId: z.string(), status: z.string() });

const familyRow = z.object({
  id: z.string(), description: z.string(), activeVariantId: z.string().nullable(), activeGeneration: z.number().nullable(),
  variantCount: z.number(), candidateCount: z.number(), policyVersion: z.number().nullable(), policyHash: z.string().nullable(),
});

const variantRow = z.object({
  id: z.string(), familyId: z.string(), generation: z.number(), parents: z.array(z.string()), mutation: z.unknown(), summary: z.string(),
  proposedBy: z.string(), contentHash: z.string(), status: z.enum(['candidate', 'trial', 'active', 'retired', 'rejected']),
  statusReason: z.string().nullable(), createdAt: z.string(), runs: z.number(), finishedRuns: z.number(), successes: z.number(),
});

export const formulaListOutput = z.object({
  families: z.array(familyRow).optional(),
  family: familyRow.optional(),
  variants: z.array(variantRow).optional(),
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

const armStats = z.object({ runs: z.number(), successes: z.number(), interventions: z.number(), reviewRejections: z.number(), tokens: z.number(), durationMs: z.number() });

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
  variants: z.array(variantRow),
  edges: z.array(z.object({ parent: z.string(), child: z.string() })),
  selections: z.array(z.object({
    seq: z.number(), variantId: z.string(), previousVariantId: z.string().nullable(), reason: z.string(), actor: z.string(), at: z.string(),
  })),
});
