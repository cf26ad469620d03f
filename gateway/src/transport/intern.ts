/**
 * V8 keeps one copy of each string used as a property name (its string table, which forgets a
 * string nobody holds), and `Object.keys` hands that copy back. Strings decoded per connection
 * that many connections share (the client address, a topic name) are kept through here, so each
 * connection holds a pointer rather than a copy of its own (memory per idle connection, issue 18
 * point 7): no map of ours to grow or prune. Any engine returns an equal string; only memory differs.
 */
const table: Record<string, 0> = Object.create(null) as Record<string, 0>;

export function intern(s: string): string {
  table[s] = 0;
  const shared = Object.keys(table)[0] as string;
  delete table[s];
  return shared;
}
