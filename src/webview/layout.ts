// A layered (Sugiyama-style) layout for directed graphs, small enough to read and fast enough for a 2,000-node run:
// cycles broken by DFS, longest-path layering (or fixed ranks such as a variant's generation), an edge that spans
// several layers split by dummy points (one per layer it crosses, Sugiyama, Tagawa and Toda 1981) so it is ordered and
// placed like a node and drawn around the nodes between its ends, a few barycenter sweeps to reduce crossings, then
// x coordinates pulled toward each node's parents without breaking the order.
// Pure: no DOM, no Cytoscape, so it is unit-tested on its own and the webview hands the result to a 'preset' layout.

export interface LayoutEdge {
  readonly source: string;
  readonly target: string;
  /**
   * A weak edge (e.g. parent-child, discovered-from) does not decide layers: it is drawn, and it pulls its ends
   * together when rows are ordered, but only strong edges (needs, blocks) say what sits above what.
   */
  readonly weak?: boolean;
}

export interface Point {
  readonly x: number;
  readonly y: number;
}

export interface LayoutOptions {
  /** A node's fixed rank (layer), e.g. a variant's generation. Layers still grow so every edge points downward. */
  readonly rankOf?: (id: string) => number | undefined;
  /** Horizontal distance between neighbouring node centres. */
  readonly nodeSep?: number;
  /** Vertical distance between rows. */
  readonly rankSep?: number;
  /** Number of down+up barycenter sweeps. */
  readonly sweeps?: number;
  /** Layers wider than this wrap onto several rows, so a 600-wide fan-out stays on screen. */
  readonly maxRowSize?: number;
}

export interface LayoutResult {
  readonly positions: ReadonlyMap<string, Point>;
  /** Node ids per layer, in their final left-to-right order. */
  readonly layers: readonly (readonly string[])[];
  /** Layer index of each node. */
  readonly layerOf: ReadonlyMap<string, number>;
  /** How many edges had to be reversed to make the graph acyclic. */
  readonly reversedEdges: number;
  /**
   * The bends of each strong edge that spans more than one layer, keyed `source>target` (the edge's own direction),
   * from the source's end to the target's: one point per layer in between, placed where no node is.
   */
  readonly routes: ReadonlyMap<string, readonly Point[]>;
}

/** The key of an edge in LayoutResult.routes. */
export function routeKey(source: string, target: string): string {
  return `${source}>${target}`;
}

const DEFAULTS = { nodeSep: 170, rankSep: 90, sweeps: 4, maxRowSize: 60 };

export function layeredLayout(ids: readonly string[], edges: readonly LayoutEdge[], options: LayoutOptions = {}): LayoutResult {
  const nodeSep = options.nodeSep ?? DEFAULTS.nodeSep;
  const rankSep = options.rankSep ?? DEFAULTS.rankSep;
  const sweeps = options.sweeps ?? DEFAULTS.sweeps;
  const maxRowSize = Math.max(1, options.maxRowSize ?? DEFAULTS.maxRowSize);

  // Dense indices make the inner loops plain array work.
  const index = new Map<string, number>();
  for (const id of ids) if (!index.has(id)) index.set(id, index.size);
  const names = [...index.keys()];
  const n = names.length;
  const out: number[][] = Array.from({ length: n }, () => []);
  const weak: [number, number][] = [];
  const seen = new Set<string>();
  for (const e of edges) {
    const s = index.get(e.source);
    const t = index.get(e.target);
    if (s === undefined || t === undefined || s === t) continue;
    const key = `${s}>${t}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (e.weak) weak.push([s, t]);
    else out[s]!.push(t);
  }

  // 1. Break cycles: an edge into a node still on the DFS stack is a back edge; it is laid out reversed.
  const { succ, pred, reversed } = acyclic(n, out);

  // 2. Layering: longest path from the sources, never above a fixed rank if one is given.
  const layer = new Array<number>(n).fill(0);
  const order = topologicalOrder(n, succ, pred);
  for (const v of order) {
    let l = 0;
    const fixed = options.rankOf?.(names[v]!);
    if (fixed !== undefined && Number.isFinite(fixed)) l = Math.max(0, Math.floor(fixed));
    for (const p of pred[v]!) l = Math.max(l, layer[p]! + 1);
    layer[v] = l;
  }
  const layerCount = n === 0 ? 0 : Math.max(...layer) + 1;
  const layers: number[][] = Array.from({ length: layerCount }, () => []);
  for (const v of order) layers[layer[v]!]!.push(v);

  // 2b. Long edges: a chain of dummy points, one per layer crossed, stands in for the edge in ordering and placement.
  // Dummies get indices from n on; `chains` remembers each edge's dummies, top to bottom.
  const above: number[][] = pred.map(() => []);
  const below: number[][] = succ.map(() => []);
  const chains: { key: string; dummies: number[]; downward: boolean }[] = [];
  let total = n;
  for (let u = 0; u < n; u++) {
    for (const v of succ[u]!) {
      const span = layer[v]! - layer[u]!;
      if (span <= 1) {
        below[u]!.push(v);
        above[v]!.push(u);
        continue;
      }
      const dummies: number[] = [];
      let prev = u;
      for (let l = layer[u]! + 1; l < layer[v]!; l++) {
        const d = total++;
        above.push([prev]);
        below.push([]);
        below[prev]!.push(d);
        layer.push(l);
        layers[l]!.push(d);
        dummies.push(d);
        prev = d;
      }
      below[prev]!.push(v);
      above[v]!.push(prev);
      // The acyclic step may have turned the edge around; the route follows the edge's own direction.
      const downward = seen.has(`${u}>${v}`);
      chains.push({ key: downward ? routeKey(names[u]!, names[v]!) : routeKey(names[v]!, names[u]!), dummies, downward });
    }
  }

  // Weak edges join the ordering as neighbours, oriented by the layers the strong edges decided.
  for (const [a, b] of weak) {
    if (layer[a] === layer[b]) continue;
    const [u, d] = layer[a]! < layer[b]! ? [a, b] : [b, a];
    below[u]!.push(d);
    above[d]!.push(u);
  }

  // 3. Ordering: barycenter sweeps. A node's neighbours may sit several layers away (long edges), so positions are
  // compared as fractions of their layer's width rather than raw indices.
  const frac = new Float64Array(total);
  const refresh = (row: readonly number[]): void => {
    row.forEach((v, i) => {
      frac[v] = (i + 0.5) / row.length;
    });
  };
  layers.forEach(refresh);
  const sortBy = (row: number[], neighbours: readonly (readonly number[])[]): void => {
    const key = new Float64Array(row.length);
    row.forEach((v, i) => {
      const ns = neighbours[v]!;
      if (ns.length === 0) key[i] = frac[v]!;
      else {
        let sum = 0;
        for (const u of ns) sum += frac[u]!;
        key[i] = sum / ns.length;
      }
    });
    const idx = row.map((_, i) => i);
    // Ties keep the current order (Array.prototype.sort is stable), so sweeps converge instead of oscillating.
    idx.sort((a, b) => key[a]! - key[b]!);
    const sorted = idx.map((i) => row[i]!);
    row.splice(0, row.length, ...sorted);
    refresh(row);
  };
  for (let s = 0; s < sweeps; s++) {
    for (let l = 1; l < layerCount; l++) sortBy(layers[l]!, above);
    for (let l = layerCount - 2; l >= 0; l--) sortBy(layers[l]!, below);
  }

  // 4. Coordinates. Rows are centred on x = 0; then each node is pulled toward the mean x of its parents, keeping
  // the order and the minimum separation (the mean of a left-packed and a right-packed placement keeps both).
  const xs = new Float64Array(total);
  const ys = new Float64Array(total);
  let row = 0;
  for (let l = 0; l < layerCount; l++) {
    const members = layers[l]!;
    const wraps = members.length > maxRowSize;
    for (let start = 0; start < members.length; start += maxRowSize) {
      const chunk = members.slice(start, start + maxRowSize);
      chunk.forEach((v, i) => {
        xs[v] = (i - (chunk.length - 1) / 2) * nodeSep;
        ys[v] = row * rankSep;
      });
      if (!wraps && l > 0) straighten(chunk, above, xs, nodeSep);
      row++;
    }
  }

  const positions = new Map<string, Point>();
  const layerOf = new Map<string, number>();
  for (let v = 0; v < n; v++) {
    positions.set(names[v]!, { x: xs[v]!, y: ys[v]! });
    layerOf.set(names[v]!, layer[v]!);
  }
  const routes = new Map<string, Point[]>();
  for (const c of chains) {
    const points = c.dummies.map((d) => ({ x: xs[d]!, y: ys[d]! }));
    routes.set(c.key, c.downward ? points : points.reverse());
  }
  return { positions, layers: layers.map((r) => r.filter((v) => v < n).map((v) => names[v]!)), layerOf, reversedEdges: reversed, routes };
}

function acyclic(n: number, out: readonly number[][]): { succ: number[][]; pred: number[][]; reversed: number } {
  const succ: number[][] = Array.from({ length: n }, () => []);
  const pred: number[][] = Array.from({ length: n }, () => []);
  const state = new Uint8Array(n); // 0 unvisited, 1 on stack, 2 done
  let reversed = 0;
  const add = (s: number, t: number): void => {
    succ[s]!.push(t);
    pred[t]!.push(s);
  };
  for (let root = 0; root < n; root++) {
    if (state[root] !== 0) continue;
    // Iterative DFS: a 2,000-deep chain would overflow a recursive one in some engines.
    const stack: [number, number][] = [[root, 0]];
    state[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const [v, i] = top;
      const targets = out[v]!;
      if (i >= targets.length) {
        state[v] = 2;
        stack.pop();
        continue;
      }
      top[1] = i + 1;
      const t = targets[i]!;
      if (state[t] === 1) {
        add(t, v);
        reversed++;
      } else {
        add(v, t);
        if (state[t] === 0) {
          state[t] = 1;
          stack.push([t, 0]);
        }
      }
    }
  }
  return { succ, pred, reversed };
}

function topologicalOrder(n: number, succ: readonly number[][], pred: readonly number[][]): number[] {
  const indegree = pred.map((p) => p.length);
  const queue: number[] = [];
  for (let v = 0; v < n; v++) if (indegree[v] === 0) queue.push(v);
  const order: number[] = [];
  for (let head = 0; head < queue.length; head++) {
    const v = queue[head]!;
    order.push(v);
    for (const t of succ[v]!) {
      indegree[t]!--;
      if (indegree[t] === 0) queue.push(t);
    }
  }
  return order;
}

function straighten(chunk: readonly number[], pred: readonly number[][], xs: Float64Array, sep: number): void {
  const k = chunk.length;
  if (k === 0) return;
  const desired = chunk.map((v) => {
    const ps = pred[v]!;
    if (ps.length === 0) return xs[v]!;
    let sum = 0;
    for (const p of ps) sum += xs[p]!;
    return sum / ps.length;
  });
  const left = new Float64Array(k);
  const right = new Float64Array(k);
  for (let i = 0; i < k; i++) left[i] = i === 0 ? desired[i]! : Math.max(desired[i]!, left[i - 1]! + sep);
  for (let i = k - 1; i >= 0; i--) right[i] = i === k - 1 ? desired[i]! : Math.min(desired[i]!, right[i + 1]! - sep);
  chunk.forEach((v, i) => {
    xs[v] = (left[i]! + right[i]!) / 2;
  });
}

/** Number of crossings between consecutive layers (edges spanning more layers are ignored): for tests and benches. */
export function countAdjacentCrossings(result: LayoutResult, edges: readonly LayoutEdge[]): number {
  const pos = new Map<string, number>();
  for (const row of result.layers) row.forEach((id, i) => pos.set(id, i));
  const byLayer = new Map<number, [number, number][]>();
  for (const e of edges) {
    const ls = result.layerOf.get(e.source);
    const lt = result.layerOf.get(e.target);
    if (ls === undefined || lt === undefined || Math.abs(ls - lt) !== 1) continue;
    const [upper, lower] = ls < lt ? [e.source, e.target] : [e.target, e.source];
    const l = Math.min(ls, lt);
    const list = byLayer.get(l) ?? [];
    list.push([pos.get(upper)!, pos.get(lower)!]);
    byLayer.set(l, list);
  }
  let crossings = 0;
  for (const list of byLayer.values()) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const [a1, b1] = list[i]!;
        const [a2, b2] = list[j]!;
        if ((a1 - a2) * (b1 - b2) < 0) crossings++;
      }
    }
  }
  return crossings;
}
