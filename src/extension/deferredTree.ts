// A tree view's data provider that exists before the ledger is open. activate() creates the views at once (so VS Code
// has a provider for them) but opens the ledger only when something needs it; the first time a view asks for its
// rows, this provider starts the opening and answers when the real tree (FamiliesTree, RunsTree) is attached.
import * as vscode from 'vscode';

/** Stands in for a tree until `attach` gives it the real one; then forwards every call and change to it. */
export class DeferredTree<T> implements vscode.TreeDataProvider<T>, vscode.Disposable {
  private inner: vscode.TreeDataProvider<T> | undefined;
  private innerChanges: vscode.Disposable | undefined;
  private readonly changed = new vscode.EventEmitter<T | T[] | undefined | null | void>();
  readonly onDidChangeTreeData = this.changed.event;

  /** `need` opens the ledger (once; later calls return the same promise) and settles when it is open or failed. */
  constructor(private readonly need: () => Promise<unknown>) {}

  /** The real tree: its rows are shown from now on. */
  attach(inner: vscode.TreeDataProvider<T>): void {
    this.inner = inner;
    this.innerChanges = inner.onDidChangeTreeData?.((e) => this.changed.fire(e));
    this.changed.fire(undefined);
  }

  getChildren(element?: T): vscode.ProviderResult<T[]> {
    if (this.inner) return this.inner.getChildren(element);
    // Asked before the ledger is open: the view shows its progress bar while this waits.
    return this.need().then(() => (this.inner ? this.inner.getChildren(element) : []));
  }

  getTreeItem(element: T): vscode.TreeItem | Thenable<vscode.TreeItem> {
    // Elements come only from the real tree's getChildren, so it is attached by the time VS Code asks for an item.
    if (!this.inner) throw new Error('a tree item was asked for before the tree was attached');
    return this.inner.getTreeItem(element);
  }

  getParent(element: T): vscode.ProviderResult<T> {
    return this.inner?.getParent?.(element);
  }

  dispose(): void {
    this.innerChanges?.dispose();
    this.changed.dispose();
  }
}
