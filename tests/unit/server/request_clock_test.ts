import assert from "node:assert/strict";
import { HttpError } from "../../../lib/server/http_error.ts";
import { RequestClock } from "../../../lib/server/request_clock.ts";

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("RequestClock aborts each request at its own deadline, whichever ended before it", async () => {
  const clock = new RequestClock(60, undefined);
  const first = clock.start();
  await wait(20);
  const second = clock.start();
  const third = clock.start();
  first.end();
  await wait(50);
  assert.equal(first.deadline.aborted, false, "an answered request is not timed out");
  assert.equal(second.deadline.aborted, false, "40 ms of 60 have passed");
  await wait(30);
  assert.ok(second.deadline.aborted && third.deadline.aborted);
  assert.ok(second.reading.aborted);
  assert.equal(second.reading.reason, second.deadline.reason);
  assert.ok(!(second.reading.reason instanceof HttpError));
  second.end();
  third.end();
});

Deno.test("RequestClock leaves no timer once every request is answered", () => {
  // The test's own op sanitizer fails it if a timer outlives it.
  const clock = new RequestClock(30_000, undefined);
  const requests = [clock.start(), clock.start(), clock.start()];
  for (const r of requests) r.end();
  clock.start().end();
});

Deno.test("a shutdown cuts the requests still reading with a 503, and not those already read", () => {
  const closing = new AbortController();
  const clock = new RequestClock(30_000, closing.signal);
  const reading = clock.start();
  const read = clock.start();
  read.bodyRead();
  closing.abort();
  assert.ok(reading.reading.aborted);
  assert.equal((reading.reading.reason as HttpError).status, 503);
  assert.match((reading.reading.reason as HttpError).message, /^Shutting down/);
  assert.equal(read.reading.aborted, false);
  assert.equal(reading.deadline.aborted || read.deadline.aborted, false);
  const late = clock.start();
  assert.match((late.reading.reason as HttpError).message, /^Shutting down/);
  for (const r of [reading, read, late]) r.end();
});
