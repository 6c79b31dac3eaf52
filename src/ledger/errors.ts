/**
 * Errors a caller can show to a person as they are: each names what was wrong and what to do about it.
 * `field` names the offending input so that tools (MCP, CLI, UI) can point at it.
 */
export class LedgerError extends Error {
  constructor(
    message: string,
    readonly code: LedgerErrorCode,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'LedgerError';
  }
}

/** The message of an unknown thrown value: an Error's message, else the value as text. The project's one. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export type LedgerErrorCode =
  | 'invalid_input'
  | 'not_found'
  | 'conflict'
  | 'corrupt'
  | 'lock_timeout'
  | 'io';

export function invalid(field: string, message: string): LedgerError {
  return new LedgerError(`${field}: ${message}`, 'invalid_input', field);
}

export function notFound(field: string, what: string, id: string): LedgerError {
  return new LedgerError(`${field}: no ${what} with id "${id}"`, 'not_found', field);
}

export function conflict(message: string, field?: string): LedgerError {
  return new LedgerError(message, 'conflict', field);
}
