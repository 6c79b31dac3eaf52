// The formula layer's vocabulary. A formula is a workflow template: variables and a DAG of steps.
// These types describe a formula after parsing and normalization, so every optional field is filled
// and consumers never have to guess a default.

/** What a variable's value may be: TOML strings, booleans and lists of strings. */
export type VarValue = string | boolean | string[];

export interface VarSpec {
  description: string;
  /** null when the variable has no default (a required variable never has one). */
  default: VarValue | null;
  required: boolean;
  /** The allowed values, or null when any value is allowed. */
  enum: string[] | null;
  /** A regular expression the whole value must match, or null. */
  pattern: string | null;
}

export type RetryExhaustion = 'fail' | 'skip' | 'escalate';

export interface Retry {
  /** How many attempts after the first one failed. */
  max: number;
  onExhausted: RetryExhaustion;
}

export type Gate =
  | { kind: 'human' }
  | { kind: 'timer'; seconds: number }
  | { kind: 'run'; formula: string };

export type GateKind = Gate['kind'];

export interface Step {
  id: string;
  title: string;
  instructions: string;
  /** Ids of the steps that must finish first. */
  needs: string[];
  /** Name of the variable whose list this step fans out over, or null. */
  forEach: string | null;
  /** A condition in the expression language; the step is skipped when it is false. */
  when: string | null;
  retry: Retry | null;
  gate: Gate | null;
  review: boolean;
}

/** TOML keys a step table may carry, in canonical order. */
export const STEP_KEYS = ['id', 'title', 'instructions', 'needs', 'for_each', 'when', 'review', 'retry', 'gate'] as const;
export type StepKey = (typeof STEP_KEYS)[number];

/**
 * A check that decides a run's outcome when the run ends (ground truth), instead of the model's own report.
 * - `run`: a shell command run in the run's folder; it passes when it exits with one of `exitCodes`
 *   (default `[0]`) within `timeoutSeconds` (default 600, at most 3600). `{{vars}}` in the command are
 *   replaced by the run's values, each quoted for a POSIX shell.
 * - `file_exists`: a path relative to the run's folder (never absolute, never with `..`) that must exist.
 * - `verdict`: `review` passes when every review step of the run was approved by a person or a reviewer.
 */
export type Check =
  | { id: string; kind: 'run'; run: string; timeoutSeconds: number; exitCodes: number[] }
  | { id: string; kind: 'file_exists'; path: string }
  | { id: string; kind: 'verdict'; verdict: 'review' };

export type CheckKind = Check['kind'];

/** Default and largest time a `run` check may take, in seconds. */
export const CHECK_TIMEOUT_DEFAULT_SECONDS = 600;
export const CHECK_TIMEOUT_MAX_SECONDS = 3600;

export interface Formula {
  name: string;
  description: string;
  version: number;
  /** The parent formula's name, or null. */
  extends: string | null;
  /** Parent steps this formula drops; only meaningful with extends. */
  removeSteps: string[];
  vars: Record<string, VarSpec>;
  /** Steps in file order. */
  steps: Step[];
  /**
   * Checks that decide a run's outcome, in file order; empty when the formula declares none (then the
   * outcome is derived from the node states). A child formula's check replaces the parent's of the same id.
   */
  checks: Check[];
  /**
   * For a formula that extends another: the TOML keys each step sets itself. A step whose id matches a
   * parent step merges over it key by key, so a child can change one field without restating the rest.
   * Empty for a formula without extends.
   */
  stepKeys: Record<string, StepKey[]>;
}

/** One thing wrong with a formula file or a formula edit, said so that a person can fix it. */
export interface Problem {
  file: string;
  /** 1-based; 0 when the problem is not tied to a line (for example in a mutation). */
  line: number;
  column?: number;
  /** Where in the formula, e.g. `steps[2].needs` or `vars.mode.default`. */
  field: string;
  message: string;
  fix: string;
}

/** A problem before it is placed in a file: the field path is enough to find the line later. */
export interface Issue {
  field: string;
  message: string;
  fix: string;
}
