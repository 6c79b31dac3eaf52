// The order a person reads a run's nodes in, shared by every surface that lists them (the runs tree; the CLI's
// `gascity run` can use it too). Pure and dependency-free.

/**
 * A run's nodes in workflow order: every node after the nodes it depends on (edges run from a dependency to its
 * dependent), and among nodes free at the same time, the ledger's order (creation, then id). Kahn's algorithm
 * (Kahn 1962, "Topological sorting of large networks"); nodes on a cycle, which the ledger refuses to create, would
 * follow in the ledger's order rather than vanish.
 */
export function workflowOrder<N extends { readonly id: string }>(nodes: readonly N[], edges: readonly { readonly from: string; readonly to: string }[]): N[] {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const waiting = new Array<number>(nodes.length).fill(0);
  const next: number[][] = nodes.map(() => []);
  for (const e of edges) {
    const from = index.get(e.from);
    const to = index.get(e.to);
    if (from === undefined || to === undefined || from === to) continue;
    next[from]!.push(to);
    waiting[to]!++;
  }
  const free: number[] = [];
  waiting.forEach((w, i) => { if (w === 0) free.push(i); });
  const out: N[] = [];
  const placed = new Array<boolean>(nodes.length).fill(false);
  while (free.length) {
    // The earliest free node in the ledger's order; free stays small next to the run, so a scan is enough.
    let at = 0;
    for (let k = 1; k < free.length; k++) if (free[k]! < free[at]!) at = k;
    const i = free.splice(at, 1)[0]!;
    placed[i] = true;
    out.push(nodes[i]!);
    for (const j of next[i]!) if (--waiting[j]! === 0) free.push(j);
  }
  nodes.forEach((n, i) => { if (!placed[i]) out.push(n); });
  return out;
}

