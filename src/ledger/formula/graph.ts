// Graph questions about the step DAG: does it have cycles, and in which order can steps run.

/**
 * Every cycle in a needs graph, one per strongly connected component, each as a path that starts and
 * ends at the same step (`a → b → a`). Edges to unknown steps are ignored; they are reported elsewhere.
 */
export function findCycles(ids: readonly string[], needsOf: (id: string) => readonly string[]): string[][] {
  const known = new Set(ids);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;

  // Tarjan's algorithm; recursion depth is bounded by the number of steps, which is small.
  const visit = (id: string): void => {
    index.set(id, counter);
    low.set(id, counter);
    counter += 1;
    stack.push(id);
    onStack.add(id);
    for (const next of needsOf(id)) {
      if (!known.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(id, Math.min(low.get(id) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(id, Math.min(low.get(id) as number, index.get(next) as number));
      }
    }
    if (low.get(id) === index.get(id)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== id);
      const selfLoop = component.length === 1 && needsOf(id).includes(id);
      if (component.length > 1 || selfLoop) components.push(component);
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
      while (queue.length > 0 && !found) {
        const current = queue.shift() as string;
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
