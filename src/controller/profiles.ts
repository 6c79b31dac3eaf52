import * as z from 'zod';
import { LedgerError } from '../ledger/index';
import type { TurnProfile } from '../codex/worker';

/**
 * Named Codex worker profiles (issue 13, branch overlays-2): a controller bids for announced nodes with each
 * of them, and runs a node one of them won on a thread with its settings. Every field maps onto what Codex's
 * `thread/start` accepts (src/codex/protocol.ts): `model`, `modelProvider`, `approvalPolicy`, `sandbox`,
 * `baseInstructions`; `effort` becomes the thread's `model_reasoning_effort` config override (Codex's
 * config.toml key, values as Codex documents them).
 */
export interface WorkerProfile {
  /** 1 to 40 characters: letters, digits, `_ . -`; part of the bidder name and of the binding's worker kind. */
  name: string;
  /** The model its threads ask for (1 to 200 characters, no whitespace). */
  model: string;
  modelProvider?: string;
  effort?: ReasoningEffort;
  sandbox?: 'read-only' | 'workspace-write' | 'danger-full-access';
  approvalPolicy?: 'untrusted' | 'on-failure' | 'on-request' | 'never';
  /** Replaces Codex's base instructions for its threads (up to 20,000 characters). */
  baseInstructions?: string;
}

/** Codex's `model_reasoning_effort` values. */
export const REASONING_EFFORTS = ['minimal', 'low', 'medium', 'high', 'xhigh'] as const;
export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];

/** The keys a profile may carry, for error messages. */
export const PROFILE_KEYS = ['name', 'model', 'modelProvider', 'effort', 'sandbox', 'approvalPolicy', 'baseInstructions'] as const;

/** At most this many profiles: each one is a bidding turn per announced node. */
export const MAX_PROFILES = 16;

const token = (field: string, max: number) => z.string({ message: `${field} is a string` }).min(1, `${field} must not be empty`).max(max, `${field} is at most ${max} characters`)
  .regex(/^[^\s\p{Cc}]+$/u, `${field} has no spaces or control characters`);

const profileSchema = z.strictObject({
  name: z.string({ message: 'name is a string' }).regex(/^[A-Za-z0-9_.-]{1,40}$/, 'name is 1 to 40 letters, digits, _ . - (e.g. "fast")'),
  model: token('model', 200),
  modelProvider: token('modelProvider', 200).optional(),
  effort: z.enum(REASONING_EFFORTS, { message: `effort is one of ${REASONING_EFFORTS.join(', ')}` }).optional(),
  sandbox: z.enum(['read-only', 'workspace-write', 'danger-full-access'], { message: 'sandbox is one of read-only, workspace-write, danger-full-access' }).optional(),
  approvalPolicy: z.enum(['untrusted', 'on-failure', 'on-request', 'never'], { message: 'approvalPolicy is one of untrusted, on-failure, on-request, never' }).optional(),
  baseInstructions: z.string({ message: 'baseInstructions is a string' }).max(20_000, 'baseInstructions is at most 20000 characters').optional(),
}, { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.join(', ')}; a profile has ${PROFILE_KEYS.join(', ')}` : undefined) });

/**
 * Checks a list of profiles (from ControllerOptions, the `gascity.workerProfiles` setting or the CLI). Returns
 * them typed; throws a LedgerError (`invalid_input`) whose field names the profile and key (`profiles.1.model`)
 * and says what to write instead: for a non-list, unknown keys, bad values, duplicate names, more than
 * MAX_PROFILES. Hostile input (`__proto__` keys, huge strings) is refused the same way.
 */
export function parseWorkerProfiles(input: unknown, where = 'profiles'): WorkerProfile[] {
  if (!Array.isArray(input)) throw new LedgerError(`${where}: give a list of profiles, each { name, model, … }`, 'invalid_input', where);
  if (input.length > MAX_PROFILES) throw new LedgerError(`${where}: at most ${MAX_PROFILES} profiles (got ${input.length})`, 'invalid_input', where);
  const seen = new Set<string>();
  return input.map((raw, i) => {
    const field = `${where}.${i}`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new LedgerError(`${field}: a profile is an object { name, model, … }`, 'invalid_input', field);
    // JSON.parse makes `__proto__` an own key; zod's strict object would not see it as unknown.
    const own = Object.keys(raw);
    const bad = own.find((k) => !(PROFILE_KEYS as readonly string[]).includes(k));
    if (bad !== undefined) throw new LedgerError(`${field}.${bad}: unknown key; a profile has ${PROFILE_KEYS.join(', ')}`, 'invalid_input', `${field}.${bad}`);
    const r = profileSchema.safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const at = [field, ...issue.path.map(String)].join('.');
      throw new LedgerError(`${at}: ${issue.message}`, 'invalid_input', at);
    }
    if (seen.has(r.data.name)) throw new LedgerError(`${field}.name: "${r.data.name}" is named twice; give each profile its own name`, 'invalid_input', `${field}.name`);
    seen.add(r.data.name);
    return r.data;
  });
}

/**
 * Parses the CLI form `NAME=MODEL[,key=value…]` (e.g. `fast=gpt-5-mini,effort=low,sandbox=read-only`) into a
 * profile object for parseWorkerProfiles; throws a LedgerError naming `--profile` and what to write.
 */
export function parseProfileFlag(text: string, index = 0): Record<string, string> {
  const field = `--profile ${index + 1}`;
  if (text.length > 21_000) throw new LedgerError(`${field}: too long`, 'invalid_input', 'profile');
  const [head, ...rest] = text.split(',');
  const eq = head!.indexOf('=');
  if (eq <= 0 || eq === head!.length - 1) throw new LedgerError(`${field}: write NAME=MODEL[,key=value…], e.g. fast=gpt-5-mini,effort=low (got "${text.slice(0, 80)}")`, 'invalid_input', 'profile');
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  out.name = head!.slice(0, eq);
  out.model = head!.slice(eq + 1);
  for (const kv of rest) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new LedgerError(`${field}: "${kv.slice(0, 80)}" is not key=value; keys are ${PROFILE_KEYS.slice(2).join(', ')}`, 'invalid_input', 'profile');
    const key = kv.slice(0, i);
    if (key === 'name' || key === 'model' || Object.hasOwn(out, key)) throw new LedgerError(`${field}: ${key} is given twice`, 'invalid_input', 'profile');
    out[key] = kv.slice(i + 1);
  }
  return { ...out };
}

/** The bidder and claim-holder name of a profile of the controller worker `worker`: `<worker>:<profile>`. */
export function profileWorker(worker: string, profile: string): string {
  return `${worker}:${profile}`;
}

/** What a worker's turn needs of a profile: its worker name and its thread/start settings. */
export function turnProfile(worker: string, p: WorkerProfile): TurnProfile {
  const threadParams: TurnProfile['threadParams'] = { model: p.model };
  if (p.modelProvider) threadParams.modelProvider = p.modelProvider;
  if (p.sandbox) threadParams.sandbox = p.sandbox;
  if (p.approvalPolicy) threadParams.approvalPolicy = p.approvalPolicy;
  if (p.baseInstructions !== undefined) threadParams.baseInstructions = p.baseInstructions;
  return { name: p.name, worker: profileWorker(worker, p.name), threadParams, ...(p.effort ? { config: { model_reasoning_effort: p.effort } } : {}) };
}
