/** The parts of a Pod that a drain reads, as plain JSON. */
export interface Pod {
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion?: string; kind: string; name: string; controller?: boolean }[];
    deletionTimestamp?: string;
  };
  spec?: {
    nodeName?: string;
    volumes?: { name: string; emptyDir?: unknown }[];
  };
  status?: { phase?: string };
}

/** `namespace/name` of a Pod. */
export function podKey(pod: Pod): string {
  return `${pod.metadata.namespace}/${pod.metadata.name}`;
}
