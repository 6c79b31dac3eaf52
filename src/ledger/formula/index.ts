// The formula layer's public surface: parse and validate formula files, flatten extends, hash and write
// canonical text, mutate, diff, instantiate run plans, and read and write evolution files.
export type { Check, CheckKind, Formula, Gate, GateKind, Issue, Problem, Retry, RetryExhaustion, Step, StepKey, VarSpec, VarValue } from './types';
export { STEP_KEYS, CHECK_TIMEOUT_DEFAULT_SECONDS, CHECK_TIMEOUT_MAX_SECONDS } from './types';
export { parseFormula, readFormula } from './parse';
export type { ParseResult } from './parse';
export { validateFormula, checkPathProblem, familyNameProblem, stepIdProblem, LIMITS, NAME_PATTERN, STEP_ID_PATTERN, RESERVED_VARS } from './validate';
export { fileNameProblem, findUnsafeKey, isUnsafeKey, MAX_NAME_LENGTH, UNSAFE_KEYS } from './names';
export { MAX_FORMULA_LENGTH, MAX_TOML_DEPTH } from './parse';
export { MAX_EXTENDS_DEPTH } from './extends';
export { MAX_CONDITION_DEPTH, MAX_CONDITION_LENGTH } from './expression';
export { loadFormulaDir } from './load';
export type { FormulaDirectory, LoadedFormula } from './load';
export { resolveExtends } from './extends';
export type { FormulaLookup, ResolveResult } from './extends';
export { canonicalize, contentHash, toToml } from './canonical';
export { applyMutations, mutationSchema, summarizeMutations, stepInputSchema, varSpecInputSchema } from './mutations';
export type { Mutation, MutationOp, MutationResult, StepInput, VarSpecInput } from './mutations';
export { diffFormulas, renderDiff } from './diff';
export type { FieldChange, FormulaChange } from './diff';
export { instantiate, resolveVars } from './instantiate';
export type { InstantiateOptions, InstantiateResult, NodeSpec, RunPlan } from './instantiate';
export { parseExpression, evaluateExpression, expressionVars, ExpressionError } from './expression';
export type { Expression } from './expression';
export { checkEvolutionFolder, evolutionPath, parseEvolutionFile, readEvolutionDir, renderEvolutionFile, writeEvolutionFile, EVOLUTION_DIR } from './evolution';
export type { EvolutionEntry, Lineage, WrittenEvolutionFile } from './evolution';
