import assert from "node:assert/strict";
import { eachPage } from "../../../../lib/act/kube/pages.ts";
import { AnswerTooLarge } from "../../../../lib/base/bounded_read.ts";
import { KubeError } from "../../../../lib/act/kube/types.ts";

/** A list of `total` items served from `token`; pages of more than `fits` items are too large. */
function list(total: number, fits: number, wrapped = false) {
  const asked: number[] = [];
  const request = (limit: number, token: string | undefined) => {
    asked.push(limit);
    if (limit > fits) {
      const err = new AnswerTooLarge("page", 10);
      return Promise.reject(
        wrapped ? Object.assign(new KubeError("Cannot list: too large"), { cause: err }) : err,
      );
    }
    const from = Number(token ?? 0);
    const items = Array.from({ length: Math.min(limit, total - from) }, (_, i) => from + i);
    const next = from + items.length;
    return Promise.resolve({
      items,
      metadata: { resourceVersion: "9", ...(next < total ? { continue: String(next) } : {}) },
    });
  };
  return { asked, request };
}

Deno.test("eachPage halves a page too large, down to what fits, then doubles back towards its limit", async () => {
  const l = list(40, 10);
  const seen: number[] = [];
  assert.equal(await eachPage(l.request, { limit: 64, each: (i) => seen.push(...i) }), "9");
  assert.deepEqual(seen, Array.from({ length: 40 }, (_, i) => i));
  assert.deepEqual(l.asked.slice(0, 6), [64, 32, 16, 8, 16, 8]);
});

Deno.test("eachPage knows a too-large answer wrapped by the client's error, and gives up at one item", async () => {
  const l = list(5, 0, true);
  await assert.rejects(eachPage(l.request, { limit: 4, each: () => {} }), /too large/);
  assert.deepEqual(l.asked, [4, 2, 1]);
});

Deno.test("eachPage stops a list whose continue token repeats, and between pages when told", async () => {
  const same = () => Promise.resolve({ items: [1], metadata: { continue: "t" } });
  await assert.rejects(eachPage(same, { limit: 5, each: () => {} }), /continue token "t" repeats/);
  let pages = 0;
  await eachPage(list(100, 100).request, { limit: 10, each: () => pages++, stopped: () => true });
  assert.equal(pages, 1);
});
