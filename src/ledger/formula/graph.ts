// Graph questions about the step DAG: does it have cycles, and in which order can steps run.

/**
 * Every cycle in a needs graph, one per strongly connected component, each as a path that starts and
 * ends at the same step (`a → b → a`). Edges to unknown steps are ignored; they are reported elsewhere.
 * Linear in steps plus needs when `needsOf` is a constant-time lookup.
 */
export function findCycles(ids: readonly string[], needsOf: (id: string) => readonly string[]): string[][] {
  const known = new Set(ids);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;

  // Tarjan's algorithm with an explicit stack of frames (the node and how many of its needs were
  // visited), so a chain of tens of thousands of steps cannot overflow the call stack.
  const visit = (root: string): void => {
    const frames: Array<{ id: string; needs: readonly string[]; next: number }> = [];
    const enter = (id: string): void => {
      index.set(id, counter);
      low.set(id, counter);
      counter += 1;
      stack.push(id);
      onStack.add(id);
      frames.push({ id, needs: needsOf(id), next: 0 });
    };
    enter(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1] as { id: string; needs: readonly string[]; next: number };
      const id = frame.id;
      if (frame.next < frame.needs.length) {
        const next = frame.needs[frame.next] as string;
        frame.next += 1;
        if (!known.has(next)) continue;
        if (!index.has(next)) {
          enter(next);
        } else if (onStack.has(next)) {
          low.set(id, Math.min(low.get(id) as number, index.get(next) as number));
        }
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent) low.set(parent.id, Math.min(low.get(parent.id) as number, low.get(id) as number));
      if (low.get(id) === index.get(id)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop() as string;
          onStack.delete(member);
          component.push(member);
        } while (member !== id);
        const selfLoop = component.length === 1 && frame.needs.includes(id);
        if (component.length > 1 || selfLoop) components.push(component);
      }
    }
  };
  for (const id of ids) if (!index.has(id)) visit(id);

  // Turn each component into one concrete path, starting from its earliest step in file order.
  const order = new Map(ids.map((id, i) => [id, i]));
  return components
    .map((component) => {
      const members = new Set(component);
      const start = [...component].sort((a, b) => (order.get(a) as number) - (order.get(b) as number))[0] as string;
      const previous = new Map<string, string>();
      const queue = [start];
      let found = false;
      // A read index instead of shift(), which would copy the queue each time on a large component.
      for (let head = 0; head < queue.length && !found; head += 1) {
        const current = queue[head] as string;
        for (const next of needsOf(current)) {
          if (!members.has(next)) continue;
          if (next === start) {
            previous.set(start, current);
            found = true;
            break;
          }
          if (!previous.has(next)) {
            previous.set(next, current);
            queue.push(next);
          }
        }
      }
      const path = [start];
      let cursor = previous.get(start) as string;
      while (cursor !== start) {
        path.push(cursor);
        cursor = previous.get(cursor) as string;
      }
      path.push(start);
      // The walk followed needs edges backwards; reverse so the path reads "a needs b needs c".
      return path.reverse();
    })
    .sort((a, b) => (order.get(a[0] as string) as number) - (order.get(b[0] as string) as number));
}
