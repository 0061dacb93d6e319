import assert from "node:assert/strict";
import { Memo, RecentMap } from "../../../lib/base/recent.ts";

Deno.test("a RecentMap keeps the entries set last, and drops the least recently set past its limit", () => {
  const m = new RecentMap<string, number>(3);
  for (const [k, v] of [["a", 1], ["b", 2], ["c", 3]] as const) m.set(k, v);
  m.set("a", 10); // a is now the most recent
  m.set("d", 4); // b goes
  assert.equal(m.size, 3);
  assert.equal(m.has("b"), false);
  assert.deepEqual(["a", "c", "d"].map((k) => m.get(k)), [10, 3, 4]);
  assert.equal(m.delete("c"), true);
  assert.equal(m.size, 2);
  assert.equal(new RecentMap<string, number>(0).size, 0);
  const none = new RecentMap<string, number>(0);
  none.set("x", 1);
  assert.equal(none.has("x"), false);
});

Deno.test("a Memo computes a key once while it is kept, and keeps no key longer than its bound", () => {
  const memo = new Memo<number>(2, 5);
  let computed = 0;
  const value = (key: string) => memo.get(key, () => (computed++, key.length));
  assert.equal(value("ab"), 2);
  assert.equal(value("ab"), 2);
  assert.equal(computed, 1);
  value("abc");
  value("abcd"); // "ab" goes
  value("ab");
  assert.equal(computed, 4);
  // Longer than the bound: computed every time.
  value("abcdef");
  value("abcdef");
  assert.equal(computed, 6);
});
