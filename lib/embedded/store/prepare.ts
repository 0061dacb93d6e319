// The server-set metadata of a new object: its name from generateName, namespace, uid, creation
// time, generation and stored apiVersion; shared by creates through the API, the seeded objects
// and the objects the node managers make.

import { groupVersion, resourceForStorage, type ResourceType } from "./resources.ts";
import { type KubeObject, meta, NAME_SUFFIX_CHARS, type ObjectMeta } from "./objects.ts";
import { normalizeTimes, rfc3339 } from "./times.ts";
import { validateObject } from "./validation.ts";

/** Groups whose objects carry `metadata.generation`, bumped on every spec change. */
export const GENERATION_GROUPS = new Set(["apps", "policy", "karpenter.sh", "cluster.x-k8s.io"]);

/** The apiVersion objects are stored under: that of the first resource type of their storage. */
export function storageApiVersion(type: ResourceType): string {
  return groupVersion(resourceForStorage(type.storage));
}

/** What {@link prepareNew} reads of the server: its clock and its random source. */
export interface PrepareContext {
  /** Clock, for creation timestamps. */
  readonly now: () => number;
  /** Random source for generated names. */
  readonly random: () => number;
}

/** Options of {@link prepareNew}. */
export interface PrepareOptions {
  /** The resource type the object is created as. */
  type: ResourceType;
  /** The namespace it goes to (ignored for a cluster-scoped type). */
  namespace: string;
  /** `server`: a new uid and creation time, as a create through the API; `keep`: its own, if any. */
  identity: "server" | "keep";
}

/**
 * Fills in and checks the server-set metadata of an object about to be created. A create
 * through the API gets a new uid and creation time; a seeded object may bring its own.
 */
export function prepareNew(
  ctx: PrepareContext,
  obj: KubeObject,
  options: PrepareOptions,
): KubeObject {
  const { type, namespace } = options;
  const m: ObjectMeta = { ...meta(obj) };
  if (!m.name && m.generateName) {
    let suffix = "";
    for (let i = 0; i < 5; i++) {
      suffix += NAME_SUFFIX_CHARS[Math.floor(ctx.random() * NAME_SUFFIX_CHARS.length)];
    }
    m.name = `${m.generateName}${suffix}`;
  }
  if (type.namespaced) m.namespace = namespace;
  else delete m.namespace;
  validateObject(type, { ...obj, metadata: m });
  const keep = options.identity === "keep";
  m.uid = keep && m.uid ? m.uid : crypto.randomUUID();
  m.creationTimestamp = keep && m.creationTimestamp ? m.creationTimestamp : rfc3339(ctx.now());
  if (GENERATION_GROUPS.has(type.group)) m.generation = 1;
  delete m.resourceVersion;
  delete m.deletionTimestamp;
  const normalized = normalizeTimes({ ...obj, metadata: m }) as KubeObject;
  return { ...normalized, apiVersion: storageApiVersion(type), kind: type.kind };
}
