// Keyboard navigation over a laid-out graph: Up/Down follow edges to the nearest node above/below, Left/Right step
// to the neighbouring node on the same row. Pure, so it is tested without a browser.
import type { Point } from './layout';
import type { Flow } from './elements';

export type Direction = 'up' | 'down' | 'left' | 'right';

export function directionOfKey(key: string): Direction | undefined {
  switch (key) {
    case 'ArrowUp':
      return 'up';
    case 'ArrowDown':
      return 'down';
    case 'ArrowLeft':
      return 'left';
    case 'ArrowRight':
      return 'right';
    default:
      return undefined;
  }
}

/** The first node to select when nothing is: the top-left one. */
export function firstNode(positions: ReadonlyMap<string, Point>): string | undefined {
  let best: [string, Point] | undefined;
  for (const entry of positions) {
    const [, p] = entry;
    if (!best || p.y < best[1].y || (p.y === best[1].y && p.x < best[1].x)) best = entry;
  }
  return best?.[0];
}

export function move(current: string | undefined, direction: Direction, positions: ReadonlyMap<string, Point>, flow: Flow): string | undefined {
  const here = current === undefined ? undefined : positions.get(current);
  if (current === undefined || here === undefined) return firstNode(positions);
  if (direction === 'up' || direction === 'down') {
    const candidates = (direction === 'down' ? flow.down : flow.up).get(current) ?? [];
    return nearest(candidates, here, positions) ?? current;
  }
  // Same row: same y, the closest x on the requested side.
  let best: string | undefined;
  let bestDx = Infinity;
  for (const [id, p] of positions) {
    if (id === current || p.y !== here.y) continue;
    const dx = direction === 'right' ? p.x - here.x : here.x - p.x;
    if (dx > 0 && dx < bestDx) {
      best = id;
      bestDx = dx;
    }
  }
  return best ?? current;
}

function nearest(ids: readonly string[], from: Point, positions: ReadonlyMap<string, Point>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const id of ids) {
    const p = positions.get(id);
    if (!p) continue;
    const d = Math.abs(p.x - from.x) + Math.abs(p.y - from.y) / 1000;
    if (d < bestD) {
      best = id;
      bestD = d;
    }
  }
  return best;
}
