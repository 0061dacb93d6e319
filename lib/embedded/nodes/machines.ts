// The machines seeded nodes run on: each cloud's node pools, machine types and zones.

import type { MachineShape } from "./status.ts";
import type { ImageCloud } from "./images.ts";

/** The style of the seeded nodes: an EKS, GKE or AKS cluster's, or kind's. */
export type NodeCloud = ImageCloud;
export const NODE_CLOUDS: readonly NodeCloud[] = ["aws", "gcp", "azure", "kind"];

type Shape = MachineShape & { arch?: "arm64" };

const EBS = { "attachable-volumes-aws-ebs": "25" };
const PD = { "attachable-volumes-gce-pd": "127" };
const disk = (n: number) => ({ "attachable-volumes-azure-disk": `${n}` });

export const SHAPES: Record<string, Shape> = {
  "m5.xlarge": { cpu: 4, memoryGi: 16, pods: 58, diskGi: 80, extra: EBS },
  "m6i.2xlarge": { cpu: 8, memoryGi: 32, pods: 58, diskGi: 100, extra: EBS },
  "c6i.4xlarge": { cpu: 16, memoryGi: 32, pods: 234, diskGi: 100, extra: EBS },
  "c5.4xlarge": { cpu: 16, memoryGi: 32, pods: 234, diskGi: 100, extra: EBS },
  "r6i.2xlarge": { cpu: 8, memoryGi: 64, pods: 58, diskGi: 100, extra: EBS },
  "m7g.2xlarge": { cpu: 8, memoryGi: 32, pods: 58, diskGi: 100, extra: EBS, arch: "arm64" },
  "e2-standard-4": { cpu: 4, memoryGi: 16, pods: 110, diskGi: 100, extra: PD },
  "n2-standard-8": { cpu: 8, memoryGi: 32, pods: 110, diskGi: 100, extra: PD },
  "n2-highmem-8": { cpu: 8, memoryGi: 64, pods: 110, diskGi: 200, extra: PD },
  "c2-standard-16": { cpu: 16, memoryGi: 64, pods: 110, diskGi: 100, extra: PD },
  "t2a-standard-8": { cpu: 8, memoryGi: 32, pods: 110, diskGi: 100, extra: PD, arch: "arm64" },
  "Standard_D4s_v5": { cpu: 4, memoryGi: 16, pods: 110, diskGi: 128, extra: disk(8) },
  "Standard_D8s_v5": { cpu: 8, memoryGi: 32, pods: 110, diskGi: 128, extra: disk(16) },
  "Standard_E8s_v5": { cpu: 8, memoryGi: 64, pods: 110, diskGi: 128, extra: disk(16) },
  "Standard_F16s_v2": { cpu: 16, memoryGi: 32, pods: 110, diskGi: 128, extra: disk(32) },
  "Standard_D8ps_v5": {
    cpu: 8,
    memoryGi: 32,
    pods: 110,
    diskGi: 128,
    extra: disk(16),
    arch: "arm64",
  },
  kind: { cpu: 8, memoryGi: 16, pods: 110, diskGi: 100 },
};

export interface Pool {
  name: string;
  types: string[];
  weight: number;
  spot?: boolean;
  /** Provisioned by Karpenter rather than a managed node group (AWS only). */
  karpenter?: boolean;
}

export const POOLS: Record<NodeCloud, Pool[]> = {
  // Karpenter provisions every worker (the control plane stays in an EKS managed node group).
  aws: [
    { name: "general", types: ["m6i.2xlarge", "m5.xlarge"], weight: 4, karpenter: true },
    {
      name: "compute-spot",
      types: ["c6i.4xlarge", "c5.4xlarge"],
      weight: 3,
      spot: true,
      karpenter: true,
    },
    { name: "memory", types: ["r6i.2xlarge"], weight: 2, karpenter: true },
    { name: "arm64", types: ["m7g.2xlarge"], weight: 1, karpenter: true },
  ],
  gcp: [
    { name: "default-pool", types: ["e2-standard-4"], weight: 3 },
    { name: "n2-pool", types: ["n2-standard-8"], weight: 3 },
    { name: "highmem-pool", types: ["n2-highmem-8"], weight: 2 },
    { name: "spot-pool", types: ["c2-standard-16"], weight: 1, spot: true },
    { name: "arm-pool", types: ["t2a-standard-8"], weight: 1 },
  ],
  azure: [
    { name: "system", types: ["Standard_D4s_v5"], weight: 2 },
    { name: "user", types: ["Standard_D8s_v5"], weight: 4 },
    { name: "memory", types: ["Standard_E8s_v5"], weight: 2 },
    { name: "spot", types: ["Standard_F16s_v2"], weight: 1, spot: true },
    { name: "arm", types: ["Standard_D8ps_v5"], weight: 1 },
  ],
  kind: [{ name: "kind", types: ["kind"], weight: 1 }],
};

export const REGION: Record<NodeCloud, string> = {
  aws: "us-east-1",
  gcp: "us-central1",
  azure: "eastus",
  kind: "",
};
export const ZONES: Record<NodeCloud, string[]> = {
  aws: ["us-east-1a", "us-east-1b", "us-east-1c"],
  gcp: ["us-central1-a", "us-central1-b", "us-central1-f"],
  azure: ["eastus-1", "eastus-2", "eastus-3"],
  kind: [""],
};
export const AWS_ZONE_IDS = ["use1-az4", "use1-az6", "use1-az1"];

/** A pool drawn by weight. */
export function pickPool(pools: Pool[], random: () => number): Pool {
  const total = pools.reduce((a, p) => a + p.weight, 0);
  let r = random() * total;
  for (const p of pools) if ((r -= p.weight) < 0) return p;
  return pools[pools.length - 1];
}
