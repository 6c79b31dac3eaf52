// Synthetic run graphs shaped like real workflow runs: a few roots fanning out into stages, with cross-stage `needs`,
// occasional `blocks` and `discovered-from` edges, and sub-tasks hanging off their parents. Deterministic (seeded)
// so every bench run and test sees the same graph.
import type { NodeState, RunGraph, RunGraphEdge, RunGraphNode } from '../src/shared/protocol';
import { NODE_STATES } from '../src/shared/protocol';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function syntheticRunGraph(nodeCount: number, seed = 7): RunGraph {
  const random = rng(seed);
  const nodes: RunGraphNode[] = [];
  const edges: RunGraphEdge[] = [];
  const stages = Math.max(1, Math.round(Math.sqrt(nodeCount) / 2));
  const perStage = Math.ceil(nodeCount / stages);
  const stageOf: number[] = [];
  for (let i = 0; i < nodeCount; i++) {
    const stage = Math.min(stages - 1, Math.floor(i / perStage));
    stageOf.push(stage);
    const progress = stage / stages;
    const state: NodeState =
      progress < 0.4 ? 'done' : progress < 0.6 ? (random() < 0.1 ? 'failed' : 'done') : (NODE_STATES[Math.floor(random() * NODE_STATES.length)] ?? 'pending');
    nodes.push({
      id: `n${i}`,
      title: `step ${i}: ${['plan', 'edit', 'test', 'review', 'merge'][i % 5]} ${stage}`,
      state,
      kind: i % 7 === 0 ? 'review' : 'task',
      ...(state === 'claimed' || state === 'active' ? { worker: { worker: 'codex', threadId: `thr_${i.toString(16)}` } } : {}),
      evidence: [{ label: 'tokens', value: String(Math.floor(random() * 50_000)) }],
    });
  }
  let e = 0;
  for (let i = 0; i < nodeCount; i++) {
    const stage = stageOf[i]!;
    if (stage === 0) continue;
    const prevStart = (stage - 1) * perStage;
    const pick = (): number => prevStart + Math.floor(random() * perStage);
    const a = Math.min(pick(), nodeCount - 1);
    edges.push({ id: `e${e++}`, source: `n${a}`, target: `n${i}`, kind: 'needs' });
    if (random() < 0.3) {
      const b = Math.min(pick(), nodeCount - 1);
      if (b !== a) edges.push({ id: `e${e++}`, source: `n${b}`, target: `n${i}`, kind: 'parent-child' });
    }
    if (random() < 0.05 && stage > 1) {
      const c = Math.floor(random() * prevStart);
      edges.push({ id: `e${e++}`, source: `n${c}`, target: `n${i}`, kind: 'discovered-from' });
    }
    if (random() < 0.03) {
      const d = Math.min(pick(), nodeCount - 1);
      edges.push({ id: `e${e++}`, source: `n${d}`, target: `n${i}`, kind: 'blocks' });
    }
  }
  return { runId: `synthetic-${nodeCount}`, title: `Synthetic run (${nodeCount} nodes)`, nodes, edges };
}
