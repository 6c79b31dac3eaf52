import * as z from 'zod';

/**
 * The part of the `codex app-server` protocol (Codex CLI 0.169) that Gas City speaks, written by hand
 * from `codex app-server generate-ts --experimental`. Names follow the generated types so that a
 * reader can look each one up there. test/codex/protocol.test.ts checks the requests we build against
 * the JSON schema the installed Codex generates, so a protocol change fails a test instead of a turn.
 *
 * Messages are JSON-RPC 2.0 without the "jsonrpc" field, one JSON object per line on stdio.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type RequestId = string | number;

// ---- client → server requests ------------------------------------------------------------------------

export interface ClientInfo {
  name: string;
  title: string | null;
  version: string;
}

export interface InitializeParams {
  clientInfo: ClientInfo;
  /** Dynamic tools, developer instructions on resume and other fields we use are behind `experimentalApi`. */
  capabilities: { experimentalApi: boolean; optOutNotificationMethods?: string[] | null } | null;
}

export interface InitializeResponse {
  userAgent: string;
  codexHome: string;
  platformFamily: string;
  platformOs: string;
}

export type AskForApproval = 'untrusted' | 'on-failure' | 'on-request' | 'never';
export type SandboxMode = 'read-only' | 'workspace-write' | 'danger-full-access';

/** A tool the client implements: Codex offers it to the model and sends each call back as `item/tool/call`. */
export interface DynamicToolFunctionSpec {
  type: 'function';
  name: string;
  description: string;
  inputSchema: JsonValue;
  deferLoading?: boolean;
}

export interface DynamicToolNamespaceSpec {
  type: 'namespace';
  name: string;
  description: string;
  tools: DynamicToolFunctionSpec[];
}

export type DynamicToolSpec = DynamicToolFunctionSpec | DynamicToolNamespaceSpec;

export interface ThreadStartParams {
  cwd?: string | null;
  model?: string | null;
  modelProvider?: string | null;
  approvalPolicy?: AskForApproval | null;
  sandbox?: SandboxMode | null;
  /** Config overrides for this thread, keyed like `-c` (dotted paths such as `mcp_servers.gascity`). */
  config?: { [key: string]: JsonValue } | null;
  baseInstructions?: string | null;
  developerInstructions?: string | null;
  ephemeral?: boolean | null;
  dynamicTools?: DynamicToolSpec[] | null;
}

export interface ThreadResumeParams {
  threadId: string;
  cwd?: string | null;
  model?: string | null;
  modelProvider?: string | null;
  approvalPolicy?: AskForApproval | null;
  sandbox?: SandboxMode | null;
  config?: { [key: string]: JsonValue } | null;
  developerInstructions?: string | null;
  /** Without it the response carries the whole history; we only need the thread back. */
  excludeTurns?: boolean;
}

export interface Thread {
  id: string;
  path: string | null;
  cwd: string;
  ephemeral: boolean;
  modelProvider: string;
  model: string | null;
  status: { type: string };
}

export interface ThreadStartResponse {
  thread: Thread;
  model: string;
  modelProvider: string;
  cwd: string;
}

export type ThreadResumeResponse = ThreadStartResponse;

export interface TextUserInput {
  type: 'text';
  text: string;
  text_elements: never[];
}

export interface TurnStartParams {
  threadId: string;
  input: TextUserInput[];
  cwd?: string | null;
}

export type TurnStatus = 'completed' | 'interrupted' | 'failed' | 'inProgress';

export interface TurnError {
  message: string;
  additionalDetails: string | null;
}

export interface Turn {
  id: string;
  status: TurnStatus;
  error: TurnError | null;
  startedAt: number | null;
  completedAt: number | null;
  durationMs: number | null;
}

export interface TurnStartResponse {
  turn: Turn;
}

export interface TurnInterruptParams {
  threadId: string;
  turnId: string;
}

/** Method name → params and result, for the requests this client sends. */
export interface ClientRequests {
  initialize: { params: InitializeParams; result: InitializeResponse };
  'thread/start': { params: ThreadStartParams; result: ThreadStartResponse };
  'thread/resume': { params: ThreadResumeParams; result: ThreadResumeResponse };
  'turn/start': { params: TurnStartParams; result: TurnStartResponse };
  'turn/interrupt': { params: TurnInterruptParams; result: Record<string, never> };
}

export type ClientRequestMethod = keyof ClientRequests;

// ---- server → client requests ------------------------------------------------------------------------

export interface DynamicToolCallParams {
  threadId: string;
  turnId: string;
  callId: string;
  namespace: string | null;
  tool: string;
  arguments: JsonValue;
}

export type DynamicToolCallOutputContentItem = { type: 'inputText'; text: string } | { type: 'inputImage'; imageUrl: string };

export interface DynamicToolCallResponse {
  contentItems: DynamicToolCallOutputContentItem[];
  success: boolean;
}

export type CommandExecutionApprovalDecision = 'accept' | 'acceptForSession' | 'decline' | 'cancel';
export type FileChangeApprovalDecision = 'accept' | 'acceptForSession' | 'decline' | 'cancel';

/** Method name → params and the result the client answers with, for the server requests we handle. */
export interface ServerRequests {
  'item/tool/call': { params: DynamicToolCallParams; result: DynamicToolCallResponse };
  'item/commandExecution/requestApproval': { params: { threadId: string; turnId: string; itemId: string; command?: string | null; reason?: string | null }; result: { decision: CommandExecutionApprovalDecision } };
  'item/fileChange/requestApproval': { params: { threadId: string; turnId: string; itemId: string; reason?: string | null }; result: { decision: FileChangeApprovalDecision } };
}

export type ServerRequestMethod = keyof ServerRequests;

// ---- server → client notifications ------------------------------------------------------------------

export interface TokenUsageBreakdown {
  totalTokens: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningOutputTokens: number;
}

/** A generic notification as it arrives; the worker checks the params of the ones it acts on. */
export interface ServerNotification {
  method: string;
  params: unknown;
}

// Run-time checks for the notification params the worker depends on. Objects are loose on purpose:
// newer Codex versions add fields, and we must not reject a message for carrying more than we read.

const tokenBreakdown = z.looseObject({
  totalTokens: z.number(),
  inputTokens: z.number(),
  cachedInputTokens: z.number().default(0),
  outputTokens: z.number(),
  reasoningOutputTokens: z.number().default(0),
});

export const tokenUsageUpdatedSchema = z.looseObject({
  threadId: z.string(),
  turnId: z.string(),
  tokenUsage: z.looseObject({ total: tokenBreakdown, last: tokenBreakdown }),
});

const turnSchema = z.looseObject({
  id: z.string(),
  status: z.enum(['completed', 'interrupted', 'failed', 'inProgress']),
  error: z.looseObject({ message: z.string(), additionalDetails: z.string().nullable().optional() }).nullable().optional(),
  durationMs: z.number().nullable().optional(),
});

export const turnCompletedSchema = z.looseObject({ threadId: z.string(), turn: turnSchema });

export const errorNotificationSchema = z.looseObject({
  threadId: z.string(),
  turnId: z.string(),
  willRetry: z.boolean(),
  error: z.looseObject({ message: z.string() }),
});

export const itemNotificationSchema = z.looseObject({
  threadId: z.string(),
  turnId: z.string(),
  item: z.looseObject({ type: z.string(), id: z.string() }),
});

export const dynamicToolCallSchema = z.looseObject({
  threadId: z.string(),
  turnId: z.string(),
  callId: z.string(),
  namespace: z.string().nullable().optional(),
  tool: z.string(),
  arguments: z.unknown(),
});

/** `mcpServer/startupStatus/updated`: an MCP server of a thread (or of the process, threadId null) changed state. */
export const mcpStartupStatusSchema = z.looseObject({
  threadId: z.string().nullable().optional(),
  name: z.string(),
  status: z.enum(['starting', 'ready', 'failed', 'cancelled']),
  error: z.string().nullable().optional(),
});

/** Builds the text input of a turn. `text_elements` is required on the wire even when empty. */
export function textInput(text: string): TextUserInput {
  return { type: 'text', text, text_elements: [] };
}
