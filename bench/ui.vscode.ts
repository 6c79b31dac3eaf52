// A stand-in for the `vscode` module, for the benches that time extension code in plain Node (bench/ui.tree.ts,
// bench/ui.activation.ts): the classes the trees build (TreeItem, ThemeIcon, EventEmitter, …) and the registration
// calls activate() makes, each doing nothing but returning a disposable. Benches only: the tests run the real
// extension host (test/e2e). `install()` makes `require('vscode')` resolve here.
import Module from 'node:module';

type Listener<T> = (e: T) => unknown;

class Disposable {
  constructor(private readonly fn: () => void = () => undefined) {}
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((d) => d.dispose()));
  }
  dispose(): void {
    this.fn();
  }
}

class EventEmitter<T> {
  private readonly listeners = new Set<Listener<T>>();
  readonly event = (listener: Listener<T>): Disposable => {
    this.listeners.add(listener);
    return new Disposable(() => this.listeners.delete(listener));
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

class TreeItem {
  id?: string;
  description?: string;
  tooltip?: unknown;
  iconPath?: unknown;
  contextValue?: string;
  command?: unknown;
  constructor(readonly label: string, readonly collapsibleState = 0) {}
}

class ThemeIcon {
  constructor(readonly id: string, readonly color?: unknown) {}
}
class ThemeColor {
  constructor(readonly id: string) {}
}
class MarkdownString {
  constructor(readonly value = '') {}
}

const none = () => new Disposable();
const channel = { info: () => undefined, warn: () => undefined, error: () => undefined, trace: () => undefined, debug: () => undefined, show: () => undefined, dispose: () => undefined };

/** The parts of the vscode API the benched code touches. */
export const standIn = {
  Disposable,
  EventEmitter,
  TreeItem,
  ThemeIcon,
  ThemeColor,
  MarkdownString,
  TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
  ViewColumn: { Active: -1, Beside: -2 },
  Uri: {
    file: (fsPath: string) => ({ fsPath, scheme: 'file', path: fsPath }),
    joinPath: (base: { fsPath: string }, ...parts: string[]) => ({ fsPath: [base.fsPath, ...parts].join('/'), scheme: 'file' }),
    from: (c: { scheme: string; path: string }) => ({ ...c, fsPath: c.path }),
  },
  window: {
    createOutputChannel: () => channel,
    createTreeView: () => ({ message: '', dispose: () => undefined, reveal: async () => undefined }),
    registerWebviewPanelSerializer: none,
    showErrorMessage: async () => undefined,
    showInformationMessage: async () => undefined,
  },
  commands: { registerCommand: none, executeCommand: async () => undefined },
  workspace: {
    textDocuments: [] as unknown[],
    workspaceFolders: undefined,
    onDidOpenTextDocument: none,
    registerTextDocumentContentProvider: none,
    getConfiguration: () => ({ get: () => undefined }),
  },
  languages: { match: () => 0 },
  lm: { registerMcpServerDefinitionProvider: none },
};

/** Makes `require('vscode')` (and `import * as vscode from 'vscode'` compiled by tsx) load the stand-in. */
export function install(): void {
  const m = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const load = m._load;
  m._load = (request: string, ...rest: unknown[]) => (request === 'vscode' ? standIn : load(request, ...rest));
}
