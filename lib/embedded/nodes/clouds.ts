// What a seeded Node looks like on each cloud: its node pool and machine type, the labels and
// annotations the cloud's agents set, its providerID, addresses, OS and attached volumes.

import { hexOf, type MachineShape, PROBLEM_DETECTOR_CONDITIONS } from "./status.ts";
import {
  AWS_ZONE_IDS,
  type NodeCloud,
  pickPool,
  POOLS,
  REGION,
  SHAPES,
  ZONES,
} from "./machines.ts";

export { NODE_CLOUDS, type NodeCloud } from "./machines.ts";

/** Who made the workers and replaces them: Karpenter (NodeClaims) or Cluster API (Machines). */
export type NodeManager = "karpenter" | "cluster-api";

const AZURE_SUB = "8f3c2d1e-5b4a-4c6d-9e8f-7a6b5c4d3e2f";
const AZURE_GROUP = "MC_prod-rg_prod-aks_eastus";

/** A UUID-shaped string derived from `seed`. */
export function uuidOf(seed: string): string {
  const h = hexOf(seed, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${
    h.slice(20)
  }`;
}

/** `base` (dotted IPv4) plus `offset`. */
function ipv4(base: string, offset: number): string {
  const n = (base.split(".").reduce((a, o) => a * 256 + Number(o), 0) + offset) >>> 0;
  return [n >>> 24 & 255, n >>> 16 & 255, n >>> 8 & 255, n & 255].join(".");
}

/** A node as its cloud sees it; {@link cloudNode} derives it from the node's name and index. */
export interface CloudNode {
  /** Labels beyond kubelet's arch, os and hostname ones. */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  providerID: string;
  /** InternalIP first. */
  addresses: { type: string; address: string }[];
  shape: MachineShape;
  arch: "amd64" | "arm64";
  os: { osImage: string; kernelVersion: string; containerRuntimeVersion: string };
  /** Conditions besides kubelet's, as [type, reason, message]. */
  conditions: string[][];
  /** Who sets the topology labels and addresses (the cloud's controller), if not kubelet. */
  cloudManager?: string;
  /** Volume names attached to the node (`kubernetes.io/csi/<driver>^<handle>`). */
  volumes: string[];
  /** The node pool it belongs to. */
  pool: string;
}

export interface CloudNodeInput {
  cloud: NodeCloud;
  name: string;
  index: number;
  controlPlane: boolean;
  /** The node's InternalIP. */
  address: string;
  /** Its node pool, by name; drawn by weight when not given (or not one of the cloud's). */
  pool?: string;
  /** Who made it, if a worker (default `karpenter`: it carries Karpenter's labels). */
  nodeManager?: NodeManager;
}

/**
 * The zone of node `index` (0 the control plane, then the workers), among `count`: the first
 * four one each in turn, then every other worker in the first zone and the rest in the others in
 * turn. Zones fill unevenly, as real clusters' do: with 9 workers, 4, 3 and 2 of them.
 */
export function zoneOf(index: number, count: number): number {
  if (index <= 3 || count < 2) return index % count;
  return index % 2 === 0 ? 0 : 1 + ((index - 5) / 2) % (count - 1);
}

/** The cloud side of node `name`: every choice comes from `random`, seeded by the name. */
export function cloudNode(n: CloudNodeInput, random: () => number): CloudNode {
  const { cloud, name, index, controlPlane, address } = n;
  const karpenter = !controlPlane && (n.nodeManager ?? "karpenter") === "karpenter";
  const drawn = controlPlane ? POOLS[cloud][0] : pickPool(POOLS[cloud], random);
  const pool = POOLS[cloud].find((p) => p.name === n.pool) ?? drawn;
  const type = pool.types[Math.floor(random() * pool.types.length)];
  const shape = SHAPES[type];
  const arch = shape.arch ?? "amd64";
  const zones = ZONES[cloud];
  const zone = zones[zoneOf(index, zones.length)];
  const region = REGION[cloud];
  const hasVolumes = cloud !== "kind" && !controlPlane && random() < 0.3;
  const volumeCount = hasVolumes ? 1 + Math.floor(random() * 5) : 0;
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  if (cloud !== "kind") {
    Object.assign(labels, {
      "beta.kubernetes.io/instance-type": type,
      "failure-domain.beta.kubernetes.io/region": region,
      "failure-domain.beta.kubernetes.io/zone": zone,
      "node.kubernetes.io/instance-type": type,
      "topology.kubernetes.io/region": region,
      "topology.kubernetes.io/zone": zone,
      "acme.io/environment": "production",
      "acme.io/team": ["platform", "payments", "data", "search"][index % 4],
      "acme.io/workload-class": pool.name,
    });
    annotations["alpha.kubernetes.io/provided-node-ip"] = address;
  }
  if (karpenter) {
    // Every worker is Karpenter's (see controllers/karpenter.ts): its NodeClaim names the same pool.
    Object.assign(labels, {
      "karpenter.sh/initialized": "true",
      "karpenter.sh/nodepool": pool.name,
      "karpenter.sh/registered": "true",
    });
  }
  const vol = (i: number) => `pvc-${uuidOf(`pvc/${name}/${i}`)}`;
  const sh = address.replaceAll(".", "-");
  let common: Omit<CloudNode, "labels" | "annotations" | "shape" | "arch" | "pool">;
  if (cloud === "aws") {
    const instance = `i-0${hexOf(`instance/${name}`, 16)}`;
    const external = ipv4("54.210.0.0", index + 2);
    const spot = pool.spot ? "SPOT" : "ON_DEMAND";
    Object.assign(labels, {
      "k8s.io/cloud-provider-aws": hexOf("cluster/prod", 32),
      "topology.ebs.csi.aws.com/zone": zone,
      "topology.k8s.aws/zone-id": AWS_ZONE_IDS[zoneOf(index, 3)],
    });
    if (pool.karpenter && karpenter) {
      const [family, size] = type.split(".");
      Object.assign(labels, {
        "karpenter.sh/capacity-type": spot === "SPOT" ? "spot" : "on-demand",
        "karpenter.k8s.aws/ec2nodeclass": "default",
        "karpenter.k8s.aws/instance-category": family[0],
        "karpenter.k8s.aws/instance-cpu": `${shape.cpu}`,
        "karpenter.k8s.aws/instance-cpu-manufacturer": family.endsWith("g") ? "aws" : "intel",
        "karpenter.k8s.aws/instance-encryption-in-transit-supported": "true",
        "karpenter.k8s.aws/instance-family": family,
        "karpenter.k8s.aws/instance-generation": family.replace(/\D/g, ""),
        "karpenter.k8s.aws/instance-hypervisor": "nitro",
        "karpenter.k8s.aws/instance-memory": `${shape.memoryGi * 1024}`,
        "karpenter.k8s.aws/instance-network-bandwidth": `${shape.cpu * 781}`,
        "karpenter.k8s.aws/instance-size": size,
      });
      Object.assign(annotations, {
        "karpenter.k8s.aws/ec2nodeclass-hash": `${BigInt("0x" + hexOf("nodeclass", 15))}`,
        "karpenter.k8s.aws/ec2nodeclass-hash-version": "v2",
        "karpenter.sh/nodepool-hash": `${BigInt("0x" + hexOf(`nodepool/${pool.name}`, 15))}`,
        "karpenter.sh/nodepool-hash-version": "v2",
      });
    } else if (controlPlane || !pool.karpenter) {
      // A managed node group's (a Cluster API worker is neither Karpenter's nor EKS's).
      Object.assign(labels, {
        "alpha.eksctl.io/cluster-name": "prod",
        "alpha.eksctl.io/nodegroup-name": pool.name,
        "eks.amazonaws.com/capacityType": spot,
        "eks.amazonaws.com/nodegroup": pool.name,
        "eks.amazonaws.com/nodegroup-image": `ami-0${hexOf(`ami/${arch}`, 16)}`,
        "eks.amazonaws.com/sourceLaunchTemplateId": `lt-0${hexOf(`lt/${pool.name}`, 16)}`,
        "eks.amazonaws.com/sourceLaunchTemplateVersion": "3",
      });
    }
    annotations["csi.volume.kubernetes.io/nodeid"] = JSON.stringify({
      "ebs.csi.aws.com": instance,
      "efs.csi.aws.com": instance,
    });
    common = {
      providerID: `aws:///${zone}/${instance}`,
      addresses: [
        { type: "InternalIP", address },
        { type: "ExternalIP", address: external },
        { type: "InternalDNS", address: `ip-${sh}.ec2.internal` },
        { type: "Hostname", address: name },
        {
          type: "ExternalDNS",
          address: `ec2-${external.replaceAll(".", "-")}.compute-1.amazonaws.com`,
        },
      ],
      os: {
        osImage: "Amazon Linux 2023.4.20240429",
        kernelVersion: `6.1.84-99.169.amzn2023.${arch === "arm64" ? "aarch64" : "x86_64"}`,
        containerRuntimeVersion: "containerd://1.7.11",
      },
      conditions: [],
      cloudManager: "aws-cloud-controller-manager",
      volumes: Array.from(
        { length: volumeCount },
        (_, i) => `kubernetes.io/csi/ebs.csi.aws.com^vol-0${hexOf(`vol/${name}/${i}`, 16)}`,
      ),
    };
  } else if (cloud === "gcp") {
    const gke: Record<string, string> = {
      "cloud.google.com/gke-boot-disk": "pd-balanced",
      "cloud.google.com/gke-container-runtime": "containerd",
      "cloud.google.com/gke-cpu-scaling-level": `${shape.cpu}`,
      "cloud.google.com/gke-logging-variant": "DEFAULT",
      "cloud.google.com/gke-max-pods-per-node": `${shape.pods}`,
      "cloud.google.com/gke-memory-gb-scaling-level": `${shape.memoryGi}`,
      "cloud.google.com/gke-nodepool": pool.name,
      "cloud.google.com/gke-os-distribution": "cos",
      "cloud.google.com/gke-provisioning": pool.spot ? "spot" : "standard",
      ...(pool.spot ? { "cloud.google.com/gke-spot": "true" } : {}),
      "cloud.google.com/gke-stack-type": "IPV4",
      "cloud.google.com/machine-family": type.split("-")[0],
      "cloud.google.com/private-node": "false",
      "iam.gke.io/gke-metadata-server-enabled": "true",
    };
    Object.assign(labels, gke, {
      "cloud.google.com/gke-netd-ready": "true",
      "node.kubernetes.io/masq-agent-ds-ready": "true",
      "topology.gke.io/zone": zone,
    });
    Object.assign(annotations, {
      "container.googleapis.com/instance_id": `${BigInt("0x" + hexOf(`gce/${name}`, 15))}`,
      "csi.volume.kubernetes.io/nodeid": JSON.stringify({
        "pd.csi.storage.gke.io": `projects/acme-prod/zones/${zone}/instances/${name}`,
      }),
      "node.gke.io/last-applied-node-labels": Object.entries(gke).map(([k, v]) => `${k}=${v}`)
        .join(","),
      "node.gke.io/last-applied-node-taints": "",
    });
    common = {
      providerID: `gce://acme-prod/${zone}/${name}`,
      addresses: [
        { type: "InternalIP", address },
        { type: "ExternalIP", address: ipv4("34.120.0.0", index + 2) },
        { type: "Hostname", address: name },
      ],
      os: {
        osImage: "Container-Optimized OS from Google",
        kernelVersion: "6.1.75+",
        containerRuntimeVersion: "containerd://1.7.13",
      },
      conditions: PROBLEM_DETECTOR_CONDITIONS,
      cloudManager: "cloud-controller-manager",
      volumes: Array.from(
        { length: volumeCount },
        (_, i) =>
          `kubernetes.io/csi/pd.csi.storage.gke.io^projects/acme-prod/zones/${zone}/disks/${
            vol(i)
          }`,
      ),
    };
  } else if (cloud === "azure") {
    const vmss = `aks-${pool.name}-${hexOf(`vmss/${pool.name}`, 8).replace(/\D/g, "7")}-vmss`;
    Object.assign(labels, {
      agentpool: pool.name,
      "kubernetes.azure.com/agentpool": pool.name,
      "kubernetes.azure.com/azure-cni-overlay": "true",
      "kubernetes.azure.com/cluster": AZURE_GROUP,
      "kubernetes.azure.com/consolidated-additional-properties": uuidOf(`props/${pool.name}`),
      "kubernetes.azure.com/kubelet-identity-client-id": uuidOf("kubelet-identity"),
      "kubernetes.azure.com/mode": pool.name === "system" ? "system" : "user",
      "kubernetes.azure.com/network-subnet": "aks-subnet",
      "kubernetes.azure.com/node-image-version": `AKSUbuntu-2204gen2${
        arch === "arm64" ? "arm64" : ""
      }containerd-202404.16.0`,
      "kubernetes.azure.com/nodepool-type": "VirtualMachineScaleSets",
      "kubernetes.azure.com/os-sku": "Ubuntu",
      "kubernetes.azure.com/podnetwork-type": "overlay",
      "kubernetes.azure.com/role": "agent",
      ...(pool.spot ? { "kubernetes.azure.com/scalesetpriority": "spot" } : {}),
      "kubernetes.azure.com/storageprofile": "managed",
      "kubernetes.azure.com/storagetier": "Premium_LRS",
      "kubernetes.io/role": "agent",
      storageprofile: "managed",
      storagetier: "Premium_LRS",
      "topology.disk.csi.azure.com/zone": zone,
    });
    annotations["csi.volume.kubernetes.io/nodeid"] = JSON.stringify({
      "disk.csi.azure.com": name,
      "file.csi.azure.com": name,
    });
    const rg = `/subscriptions/${AZURE_SUB}/resourceGroups/${AZURE_GROUP.toLowerCase()}`;
    common = {
      providerID: `azure://${rg}/providers/Microsoft.Compute/virtualMachineScaleSets/${vmss}` +
        `/virtualMachines/${index}`,
      addresses: [{ type: "InternalIP", address }, { type: "Hostname", address: name }],
      os: {
        osImage: "Ubuntu 22.04.4 LTS",
        kernelVersion: "5.15.0-1061-azure",
        containerRuntimeVersion: "containerd://1.7.15-1",
      },
      conditions: PROBLEM_DETECTOR_CONDITIONS,
      cloudManager: "cloud-node-manager",
      volumes: Array.from(
        { length: volumeCount },
        (_, i) =>
          `kubernetes.io/csi/disk.csi.azure.com^${rg}/providers/Microsoft.Compute/disks/${vol(i)}`,
      ),
    };
  } else {
    annotations["kubeadm.alpha.kubernetes.io/cri-socket"] =
      "unix:///run/containerd/containerd.sock";
    common = {
      providerID: `kind://docker/heal/${name}`,
      addresses: [{ type: "InternalIP", address }, { type: "Hostname", address: name }],
      os: {
        osImage: "Debian GNU/Linux 12 (bookworm)",
        kernelVersion: "6.1.0-18-amd64",
        containerRuntimeVersion: "containerd://1.7.13",
      },
      conditions: [],
      volumes: [],
    };
  }
  return { ...common, labels, annotations, shape, arch, pool: pool.name };
}
