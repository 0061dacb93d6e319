// No promise in lib/ is left floating: each is awaited, handled, run through a Background
// (lib/base/background.ts), or voided with a reason. See floating_promises.ts for what is checked.
import * as assert from "node:assert/strict";
import { findFloating, sourceFiles } from "./floating_promises.ts";

const FIXTURE = new URL("./floating_fixture.ts", import.meta.url).pathname;

// Each line marked `// floats` is one the check must find; the others it must let pass.
const FIXTURE_TEXT = `
import { Background } from "../../lib/base/background.ts";
declare function work(): Promise<void>;
declare const handlers: { due: (name: string) => void; ended(name: string): void };
const background = new Background();
class Holder {
  #worker?: Promise<void>;
  #safe?: Promise<void>;
  start(): void {
    work(); // floats
    work().then(() => {}); // floats
    work().finally(() => {}); // floats
    this.#worker = work(); // floats
    setTimeout(() => work(), 10); // floats
    setInterval(async () => { await work(); }, 10); // floats
    handlers.due = (name) => work(); // floats
    void work(); // floats
    take({ ended: async (name: string) => { await work(); } }); // floats
    take({ async ended(name: string) { await work(); } }); // floats
    // A reason.
    void work();
    work().catch(() => {});
    work().then(() => {}, () => {});
    this.#safe = background.settled("sweep", () => work());
    background.run("sweep", () => work());
    setTimeout(background.guard("sweep", () => work()), 10);
    const kept = work();
    kept.catch(() => {});
  }
  async stop(): Promise<void> {
    await work();
    await this.#worker;
    await this.#safe;
  }
}
function take(h: { ended: (name: string) => void }): void {
  h.ended("x");
}
new Holder().start();
`;

Deno.test("the floating-promise check finds every shape it looks for, and lets handled promises pass", () => {
  const report = findFloating([], { [FIXTURE]: FIXTURE_TEXT });
  assert.deepEqual(report.unresolved, []);
  const lines = FIXTURE_TEXT.split("\n");
  const expected = lines.flatMap((l, i) => l.includes("// floats") ? [i + 1] : []);
  const found = report.floating.map((f) => Number(f.at.split(":").at(-1)));
  assert.deepEqual([...new Set(found)].sort((a, b) => a - b), expected, JSON.stringify(report));
});

Deno.test("no promise in lib/ or main.ts is left floating: each is awaited, handled, run in the background or voided with a reason", () => {
  const report = findFloating(sourceFiles(["lib", "main.ts"]));
  // Names or modules the checker cannot resolve would make types `any` and hide promises.
  assert.deepEqual(report.unresolved, []);
  assert.ok(report.promisesSeen > 500, `only ${report.promisesSeen} promise expressions seen`);
  assert.deepEqual(
    report.floating.map((f) => `${f.at} ${f.kind}: ${f.code}`),
    [],
    "await it, handle it (.catch, .then with a rejection handler), start it through the service's " +
      "Background (lib/base/background.ts: run, settled, guard), or `void` it with a comment saying " +
      "why it cannot reject",
  );
});
