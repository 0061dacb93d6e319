// A Lease as node-heal reads it (lib/act/kube/convert.ts toLeaseRecord): each field checked alone,
// a bad one read as harmless and named, so that no hand edit of the Lease stops the election.
import assert from "node:assert/strict";
import { toLeaseRecord } from "../../../lib/act/kube/convert.ts";

Deno.test("toLeaseRecord() reads a sound Lease as it is, and names nothing malformed", () => {
  const record = toLeaseRecord({
    metadata: { resourceVersion: "9" },
    spec: {
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      renewTime: "2026-12-06T10:00:00.000000Z",
      leaseTransitions: 3,
    },
  });
  assert.deepEqual(record, {
    holder: "a",
    leaseDurationSeconds: 15,
    renewTime: "2026-12-06T10:00:00.000000Z",
    leaseTransitions: 3,
    resourceVersion: "9",
  });
});

Deno.test("toLeaseRecord() reads each hostile field as harmless: a holder as someone's, a count as 0, a time as absent", () => {
  const record = toLeaseRecord({
    metadata: { resourceVersion: "9" },
    spec: {
      holderIdentity: "x".repeat(5000),
      leaseDurationSeconds: 1.5,
      renewTime: { at: "now" },
      leaseTransitions: 2 ** 31 - 1,
    } as never,
  });
  assert.equal(record.holder, "(unreadable holder)", "held by someone: waited out");
  assert.equal(record.leaseDurationSeconds, 0, "the elector reads 0 as its own duration");
  assert.equal(record.renewTime, undefined);
  assert.equal(record.leaseTransitions, 0, "a take-over can still be written (int32)");
  assert.deepEqual(record.malformed?.sort(), [
    "holderIdentity",
    "leaseDurationSeconds",
    "leaseTransitions",
    "renewTime",
  ]);
  assert.deepEqual(toLeaseRecord({ spec: { holderIdentity: null } as never }).malformed, undefined);
});
