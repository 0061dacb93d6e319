// lib/base/background.ts: a background task that throws, rejects, or throws what is not an Error ends in
// the handler (logged with its task and the error clipped, counted), never in its caller nor the
// process; and the process-wide handler catches what escapes even that.
import assert from "node:assert/strict";
import { Background, catchUnhandled, errorText } from "../../../lib/base/background.ts";
import { Metrics } from "../../../lib/report/metrics.ts";
import { backgroundErrors, failedLines, withLogs } from "../../support/logs.ts";
import { assertNoUnhandled } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";

Deno.test("a background task that throws, rejects or throws a non-Error is logged and counted, and its caller goes on", async () => {
  await withLogs(async (records) => {
    const metrics = new Metrics();
    const { background } = metrics;
    background.run("sweep", () => {
      throw new TypeError("Cannot read properties of null (reading 'seen')");
    });
    background.run("reconcile", () => Promise.reject(new Error("rejected")));
    background.run("drain", () => {
      throw null;
    });
    background.run("notify", () => Promise.reject({ toString: () => "a plain object" }));
    background.run("events", () => "not a promise");
    await waitFor("the rejections told", () => failedLines(records, "notify").length === 1);
    assert.equal(await backgroundErrors(metrics, "sweep"), 1);
    assert.equal(await backgroundErrors(metrics, "reconcile"), 1);
    assert.equal(await backgroundErrors(metrics, "drain"), 1);
    assert.equal(await backgroundErrors(metrics, "events"), 0);
    const [sweep] = failedLines(records, "sweep");
    assert.equal(sweep.properties.error, "Cannot read properties of null (reading 'seen')");
    assert.match(String(sweep.properties.stack), /^TypeError: Cannot read/);
    assert.equal(failedLines(records, "drain")[0].properties.error, "null");
    assert.equal(failedLines(records, "notify")[0].properties.error, "non-error a plain object");
  });
});

Deno.test("a background task's error is clipped in the log: a hostile value is never echoed whole", async () => {
  await withLogs(async (records) => {
    const background = new Background();
    background.run("reconcile", () => {
      throw new Error(`Cannot parse ${"x".repeat(100_000)}`);
    });
    await Promise.resolve();
    const error = String(failedLines(records, "reconcile")[0].properties.error);
    assert.ok(error.length <= 500, `${error.length} characters`);
    assert.ok(error.endsWith("…"));
  });
});

Deno.test("settled() resolves once its task has ended and never rejects; guard() makes a callback that never throws", async () => {
  await withLogs(async (records) => {
    const metrics = new Metrics();
    const { background } = metrics;
    let ended = false;
    await background.settled("replacement", async () => {
      await new Promise((r) => setTimeout(r, 10));
      ended = true;
    });
    assert.ok(ended);
    await background.settled("replacement", () => Promise.reject(new Error("boom")));
    const timer = background.guard("pause-poll", (n: number) => {
      throw new Error(`tick ${n}`);
    });
    // A timer whose callback throws would end the process (and fail this test) without guard().
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        timer(1);
        resolve();
      }, 1)
    );
    assert.equal(await backgroundErrors(metrics, "replacement"), 1);
    assert.equal(await backgroundErrors(metrics, "pause-poll"), 1);
    assert.equal(failedLines(records, "pause-poll")[0].properties.error, "tick 1");
  });
});

Deno.test("a failure whose counter throws too is swallowed, not thrown", () => {
  const background = new Background(() => {
    throw new Error("the counter failed");
  });
  background.run("sweep", () => {
    throw new Error("first");
  });
});

Deno.test("errorText() never throws, whatever was thrown", () => {
  const hostile = {
    get message(): string {
      throw new Error("getter");
    },
    toString(): string {
      throw new Error("toString");
    },
  };
  assert.equal(errorText(new Error("plain")), "plain");
  assert.equal(errorText("text"), "text");
  assert.equal(errorText(undefined), "undefined");
  assert.equal(errorText(hostile), "[object Object]");
  const error = new Error("x");
  Object.defineProperty(error, "message", {
    get() {
      throw new Error("getter");
    },
  });
  assert.equal(errorText(error), "[object Error]");
});

Deno.test("the process-wide handler logs and counts an unhandled rejection and an uncaught error, and the process goes on", async () => {
  await withLogs(async (records) => {
    const counted: string[] = [];
    const stop = catchUnhandled((kind) => counted.push(kind));
    try {
      Promise.reject(new Error("nobody handles this"));
      setTimeout(() => {
        throw new Error("nobody catches this");
      }, 1);
      await waitFor("both told", () => counted.length === 2);
    } finally {
      stop();
    }
    assert.deepEqual(counted.sort(), ["error", "rejection"]);
    const lines = records.filter((r) => r.level === "error").map((r) =>
      `${r.properties.kind}: ${r.properties.error}`
    );
    assert.deepEqual(lines.sort(), [
      "error: nobody catches this",
      "rejection: nobody handles this",
    ]);
    assert.ok(records.every((r) => String(r.rawMessage).startsWith("Unhandled {kind}")));
  });
});

Deno.test("the helpers that stop node-heal processes in tests fail on an unhandled line, logged or printed by Deno", () => {
  const line = JSON.stringify({
    level: "ERROR",
    message: 'Unhandled "rejection": "boom"; this is a bug in node-heal, which goes on',
  });
  assertNoUnhandled([{ level: "INFO", message: "Stopped" }], "");
  assert.throws(() => assertNoUnhandled([], `${line}\n`), /unhandled errors: .*boom/);
  assert.throws(
    () => assertNoUnhandled([], "error: Uncaught (in promise) TypeError: x\n"),
    /Uncaught \(in promise\)/,
  );
  // A background task's failure is logged and counted, not a failure of the test by itself.
  assertNoUnhandled([], JSON.stringify({ level: "ERROR", message: "Background task failed" }));
});
