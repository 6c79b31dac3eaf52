// Every command of the table is registered the moment the extension activates, before the ledger opens, as
// rust-analyzer does (editors/code/src/ctx.ts): each has an enabled form (its handler, once the services exist) and a
// disabled form, which says why the command cannot run and offers the log. A command invoked before the ledger is
// open starts its opening (whenNeeded) and waits for it.
import * as vscode from 'vscode';
import type { CommandName } from './commands';
import { COMMANDS } from './commands';

/** A command's handler; arguments come from menus, tree items, the graph or `executeCommand`. */
export type CommandHandler = (...args: never[]) => unknown;

export type CommandHandlers = { readonly [K in CommandName]?: CommandHandler };

export { errorMessage } from '../ledger/errors';
import { errorMessage } from '../ledger/errors';

export class CommandRegistry implements vscode.Disposable {
  private handlers: CommandHandlers = {};
  private disabledBecause: string | undefined;
  private readonly registrations: vscode.Disposable[] = [];
  private settle: (() => void) | undefined;
  /** Resolves once the services are composed or failed to compose. */
  private readonly settled = new Promise<void>((resolve) => { this.settle = resolve; });

  constructor(private readonly log: vscode.LogOutputChannel) {
    for (const name of Object.keys(COMMANDS) as CommandName[]) {
      this.registrations.push(vscode.commands.registerCommand(COMMANDS[name].id, (...args: unknown[]) => this.run(name, args)));
    }
  }

  private needed: (() => void) | undefined;

  /** Called (once) when a command that needs the ledger runs before it is open: it starts the opening. */
  whenNeeded(open: () => void): void {
    this.needed = open;
  }

  /** Handlers that work without the ledger (Show Log, Codex registration): enabled from the start. */
  bindEarly(handlers: CommandHandlers): void {
    this.handlers = { ...this.handlers, ...handlers };
  }

  /** The services are up: every command runs its handler. */
  enable(handlers: CommandHandlers): void {
    this.handlers = { ...this.handlers, ...handlers };
    this.disabledBecause = undefined;
    this.settle?.();
  }

  /** The services could not start: commands without an early handler say why and offer the log. */
  disable(reason: string): void {
    this.disabledBecause = reason;
    this.settle?.();
  }

  private async run(name: CommandName, args: unknown[]): Promise<unknown> {
    const spec = COMMANDS[name];
    if (!this.handlers[name]) {
      this.needed?.();
      await this.settled;
    }
    const handler = this.handlers[name] as ((...a: unknown[]) => unknown) | undefined;
    if (!handler) {
      const why = this.disabledBecause ?? 'it is not available in this window';
      this.log.warn(`${spec.id} is disabled: ${why}`);
      const show = 'Show Log';
      void vscode.window.showErrorMessage(`Gas City: ${spec.title} cannot run because the ledger could not be opened: ${why}`, show).then((c) => {
        if (c === show) this.log.show();
      });
      return undefined;
    }
    try {
      return await handler(...args);
    } catch (e) {
      this.log.error(`${spec.id} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      const show = 'Show Log';
      void vscode.window.showErrorMessage(`${spec.title} failed: ${errorMessage(e)}`, show).then((c) => {
        if (c === show) this.log.show();
      });
      return undefined;
    }
  }

  dispose(): void {
    for (const d of this.registrations) d.dispose();
    this.settle?.();
  }
}
