import { describe, expect, it } from 'vitest';
import { SmallSet } from '../src/transport/small-set.js';

/** Applies the same operations to a SmallSet and a Set: they must agree at every step. */
function mirror(ops: [op: 'add' | 'delete' | 'clear', item: string][]): void {
  const small = new SmallSet<string>();
  const ref = new Set<string>();
  for (const [op, item] of ops) {
    if (op === 'add') {
      small.add(item);
      ref.add(item);
    } else if (op === 'delete') {
      expect(small.delete(item)).toBe(ref.delete(item));
    } else {
      small.clear();
      ref.clear();
    }
    expect([...small]).toEqual([...ref]);
    expect(small.size).toBe(ref.size);
    for (const x of ['a', 'b', 'c', 'd']) expect(small.has(x)).toBe(ref.has(x));
  }
}

describe('SmallSet', () => {
  it('keeps insertion order and Set semantics inline, past two items, and after deletes', () => {
    mirror([
      ['add', 'a'],
      ['add', 'a'],
      ['add', 'b'],
      ['add', 'b'],
      ['delete', 'a'],
      ['add', 'a'],
      ['delete', 'c'],
    ]);
    mirror([
      ['add', 'a'],
      ['add', 'b'],
      ['add', 'c'],
      ['delete', 'b'],
      ['add', 'd'],
      ['delete', 'a'],
      ['clear', ''],
      ['add', 'c'],
    ]);
    mirror([
      ['add', 'a'],
      ['add', 'b'],
      ['delete', 'b'],
      ['delete', 'a'],
      ['delete', 'a'],
      ['add', 'b'],
    ]);
  });

  it('skips an item deleted during iteration, as a Set does', () => {
    const s = new SmallSet<string>().add('a').add('b');
    const seen: string[] = [];
    for (const x of s) {
      seen.push(x);
      s.delete('b');
    }
    expect(seen).toEqual(['a']);
    expect([...s]).toEqual(['a']);
  });
});
