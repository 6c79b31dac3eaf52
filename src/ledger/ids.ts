import { randomFillSync } from 'node:crypto';

// Crockford's base32 without the letters people misread (i, l, o, u).
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * Random bytes drawn from the kernel 4 KiB at a time: one `randomBytes` call per id was a seventh of
 * a commit's CPU time (a profile of bench/ledger.ts), while the bytes need no more than uniqueness.
 */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function take(n: number): Buffer {
  if (poolAt + n > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const out = pool.subarray(poolAt, poolAt + n);
  poolAt += n;
  return out;
}

/**
 * A short id such as `r-4k9xq2`. Ids are drawn while the writer holds the ledger lock and has caught
 * up with every other writer, so `taken` sees every id in use and a collision is simply drawn again.
 */
export function newId(prefix: string, taken: (id: string) => boolean, length = 6): string {
  for (let attempt = 0; attempt < 100; attempt++) {
    const bytes = take(length);
    let s = '';
    for (let i = 0; i < length; i++) s += ALPHABET[bytes[i]! & 31];
    const id = `${prefix}-${s}`;
    if (!taken(id)) return id;
    // After many collisions the id space at this length is crowded: widen it.
    if (attempt > 10) length++;
  }
  throw new Error(`could not draw a free ${prefix} id`);
}
