// The election's calls on its Lease (coordination.k8s.io/v1), as plain JSON over the same
// bounded, timed transport as every other call. They are not fenced: they are how a replica
// finds out whether it may act.
import type { LeaseRecord } from "./types.ts";
import { type LeaseObject, toLeaseObject, toLeaseRecord } from "./convert.ts";
import type { ObjectCallsDeps } from "./objects.ts";

/** The path of the Leases of `namespace`, and of Lease `name` when given. */
function leasePath(namespace: string, name?: string): string {
  const leases = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  return name === undefined ? leases : `${leases}/${encodeURIComponent(name)}`;
}

/** The KubeClient's Lease calls: read, create, update. */
export class LeaseCalls {
  #send: ObjectCallsDeps["send"];

  constructor(send: ObjectCallsDeps["send"]) {
    this.#send = send;
  }

  async get(namespace: string, name: string): Promise<LeaseRecord | undefined> {
    const lease = await this.#send<LeaseObject, undefined>(
      `read lease "${namespace}/${name}"`,
      { method: "GET", path: leasePath(namespace, name) },
      { 404: undefined },
    );
    return lease && toLeaseRecord(lease);
  }

  async create(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord> {
    return toLeaseRecord(
      await this.#send<LeaseObject>(`create lease "${namespace}/${name}"`, {
        method: "POST",
        path: leasePath(namespace),
        body: toLeaseObject(namespace, name, record),
      }),
    );
  }

  async update(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord> {
    return toLeaseRecord(
      await this.#send<LeaseObject>(`update lease "${namespace}/${name}"`, {
        method: "PUT",
        path: leasePath(namespace, name),
        body: toLeaseObject(namespace, name, record),
      }),
    );
  }
}
