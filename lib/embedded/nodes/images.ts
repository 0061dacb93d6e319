// The container images seeded nodes hold: each cloud's system images (pause, kube-proxy, its
// CNI and CSI drivers), the add-ons clusters commonly run, and a company's own app images.

import type { ImageKind } from "./status.ts";

/** Where a node's cloud keeps its images, and the registry of the company's own apps. */
export type ImageCloud = "aws" | "gcp" | "azure" | "kind";

const ECR = "602401143452.dkr.ecr.us-east-1.amazonaws.com";
const MCR = "mcr.microsoft.com";

/** The images every node of `cloud` runs: [repository, tag, MB]. */
export function systemImages(cloud: ImageCloud, kubelet: string): [string, string, number][] {
  switch (cloud) {
    case "aws":
      return [
        [`${ECR}/eks/pause`, "3.5", 0.3],
        [`${ECR}/eks/kube-proxy`, `${kubelet}-minimal-eksbuild.2`, 31],
        [`${ECR}/amazon-k8s-cni`, "v1.18.3-eksbuild.1", 45],
        [`${ECR}/amazon-k8s-cni-init`, "v1.18.3-eksbuild.1", 58],
        [`${ECR}/amazon/aws-network-policy-agent`, "v1.1.2-eksbuild.1", 35],
        [`${ECR}/eks/aws-ebs-csi-driver`, "v1.32.0", 88],
        [`${ECR}/eks/csi-node-driver-registrar`, "v2.11.0-eks-1-30-8", 13],
        [`${ECR}/eks/livenessprobe`, "v2.13.0-eks-1-30-8", 12],
        [`${ECR}/eks/eks-pod-identity-agent`, "0.1.6", 28],
      ];
    case "gcp":
      return [
        ["gke.gcr.io/pause", "3.9", 0.3],
        ["gke.gcr.io/kube-proxy-amd64", `${kubelet}-gke.1000`, 32],
        ["gke.gcr.io/gke-metrics-agent", "1.12.3-gke.0", 134],
        ["gke.gcr.io/fluent-bit", "v1.8.12-gke.33", 64],
        ["gke.gcr.io/fluent-bit-gke-exporter", "v0.24.0-gke.1", 70],
        ["gke.gcr.io/gcp-compute-persistent-disk-csi-driver", "v1.13.2-gke.0", 72],
        ["gke.gcr.io/csi-node-driver-registrar", "v2.9.4-gke.5", 11],
        ["gke.gcr.io/netd", "v0.6.2-gke.0", 92],
        ["gke.gcr.io/ip-masq-agent", "v2.9.3-v0.2.10-gke.4", 28],
        ["gke.gcr.io/gke-metadata-server", "20240312_2330_RC0", 48],
        ["gke.gcr.io/prometheus-to-sd", "v0.11.12-gke.11", 20],
        ["gke.gcr.io/cilium/cilium", "v1.13.10-gke.300", 200],
      ];
    case "azure":
      return [
        [`${MCR}/oss/kubernetes/pause`, "3.6", 0.3],
        [`${MCR}/oss/kubernetes/kube-proxy`, `${kubelet}-hotfix.20240411`, 33],
        [`${MCR}/containernetworking/azure-cns`, "v1.5.26", 70],
        [`${MCR}/containernetworking/azure-ip-masq-merger`, "v0.0.1-0", 12],
        [`${MCR}/containernetworking/cni-dropgz`, "v0.0.4.2", 20],
        [`${MCR}/oss/kubernetes-csi/azuredisk-csi`, "v1.29.5", 80],
        [`${MCR}/oss/kubernetes-csi/azurefile-csi`, "v1.29.5", 73],
        [`${MCR}/oss/kubernetes-csi/csi-node-driver-registrar`, "v2.10.1", 11],
        [`${MCR}/oss/kubernetes-csi/livenessprobe`, "v2.12.0", 10],
        [`${MCR}/oss/kubernetes/azure-cloud-node-manager`, "v1.29.8", 24],
        [`${MCR}/aks/ip-masq-agent-v2`, "v0.1.11", 27],
        [`${MCR}/azuremonitor/containerinsights/ciprod`, "3.1.20", 310],
      ];
    case "kind":
      return [
        ["registry.k8s.io/pause", "3.9", 0.3],
        ["registry.k8s.io/kube-proxy", kubelet, 86],
        ["registry.k8s.io/kube-apiserver", kubelet, 126],
        ["registry.k8s.io/kube-controller-manager", kubelet, 124],
        ["registry.k8s.io/kube-scheduler", kubelet, 60],
        ["registry.k8s.io/etcd", "3.5.10-0", 57],
        ["registry.k8s.io/coredns/coredns", "v1.11.1", 18],
        ["docker.io/kindest/kindnetd", "v20240202-8f1494ea", 28],
        ["docker.io/kindest/local-path-provisioner", "v20240202-8f1494ea", 19],
        ["docker.io/kindest/local-path-helper", "v20230510-486859a6", 3],
      ];
  }
}

/** Add-ons and off-the-shelf images, found on any cluster. */
const COMMON: ImageKind[] = [
  { repo: "docker.io/library/nginx", tags: ["1.25", "1.25.4", "1.26.0", "1.27.1"], mb: 70 },
  { repo: "docker.io/library/redis", tags: ["7.2", "7.2.4", "7.2.5-alpine"], mb: 45 },
  { repo: "docker.io/library/busybox", tags: ["1.36", "1.36.1"], mb: 2 },
  { repo: "docker.io/library/postgres", tags: ["15.6", "16.2", "16.3-alpine"], mb: 160 },
  { repo: "docker.io/library/memcached", tags: ["1.6.26", "1.6.29-alpine"], mb: 33 },
  { repo: "docker.io/library/rabbitmq", tags: ["3.12-management", "3.13.2"], mb: 110 },
  { repo: "registry.k8s.io/coredns/coredns", tags: ["v1.11.1", "v1.10.1"], mb: 18 },
  { repo: "registry.k8s.io/metrics-server/metrics-server", tags: ["v0.7.1"], mb: 20 },
  { repo: "registry.k8s.io/ingress-nginx/controller", tags: ["v1.10.1", "v1.9.6"], mb: 105 },
  { repo: "registry.k8s.io/kube-state-metrics/kube-state-metrics", tags: ["v2.12.0"], mb: 18 },
  { repo: "registry.k8s.io/autoscaling/cluster-autoscaler", tags: ["v1.29.2"], mb: 30 },
  { repo: "quay.io/prometheus/node-exporter", tags: ["v1.7.0", "v1.8.1"], mb: 12 },
  { repo: "quay.io/prometheus/prometheus", tags: ["v2.51.2", "v2.52.0"], mb: 95 },
  { repo: "quay.io/prometheus-operator/prometheus-config-reloader", tags: ["v0.73.2"], mb: 6 },
  { repo: "quay.io/prometheus-operator/prometheus-operator", tags: ["v0.73.2"], mb: 15 },
  { repo: "quay.io/jetstack/cert-manager-controller", tags: ["v1.14.5"], mb: 20 },
  { repo: "quay.io/jetstack/cert-manager-webhook", tags: ["v1.14.5"], mb: 17 },
  { repo: "quay.io/jetstack/cert-manager-cainjector", tags: ["v1.14.5"], mb: 15 },
  { repo: "quay.io/argoproj/argocd", tags: ["v2.10.9", "v2.11.0"], mb: 180 },
  { repo: "gcr.io/datadoghq/agent", tags: ["7.52.1", "7.53.0"], mb: 220 },
  { repo: "gcr.io/datadoghq/cluster-agent", tags: ["7.52.1"], mb: 90 },
  { repo: "cr.fluentbit.io/fluent/fluent-bit", tags: ["2.2.2", "3.0.4"], mb: 34 },
  { repo: "docker.io/grafana/grafana", tags: ["10.4.2", "11.0.0"], mb: 135 },
  { repo: "docker.io/grafana/loki", tags: ["2.9.8", "3.0.0"], mb: 26 },
  { repo: "docker.io/grafana/promtail", tags: ["2.9.8"], mb: 70 },
  { repo: "docker.io/istio/proxyv2", tags: ["1.21.2", "1.22.0"], mb: 95 },
  { repo: "docker.io/istio/pilot", tags: ["1.21.2", "1.22.0"], mb: 75 },
  { repo: "docker.io/envoyproxy/envoy", tags: ["v1.29.4", "v1.30.1"], mb: 60 },
  { repo: "docker.io/otel/opentelemetry-collector-contrib", tags: ["0.100.0", "0.101.0"], mb: 75 },
  { repo: "docker.io/hashicorp/vault", tags: ["1.16.2"], mb: 150 },
  { repo: "docker.io/bitnami/kafka", tags: ["3.7.0-debian-12-r4"], mb: 230 },
  { repo: "docker.io/bitnami/zookeeper", tags: ["3.9.2-debian-12-r5"], mb: 150 },
  { repo: "docker.io/bitnami/mongodb", tags: ["7.0.9-debian-12-r4"], mb: 240 },
  { repo: "docker.io/jaegertracing/all-in-one", tags: ["1.57.0"], mb: 30 },
  { repo: "ghcr.io/external-secrets/external-secrets", tags: ["v0.9.18"], mb: 25 },
  { repo: "ghcr.io/kedacore/keda", tags: ["2.14.0"], mb: 40 },
  { repo: "docker.elastic.co/elasticsearch/elasticsearch", tags: ["8.13.4"], mb: 650 },
  { repo: "docker.io/amazon/aws-for-fluent-bit", tags: ["2.32.2"], mb: 95 },
];

/** The company's own services, built often: many tags each. */
const APPS = [
  "checkout",
  "payments-api",
  "cart",
  "search",
  "recommendations",
  "user-service",
  "notifications",
  "inventory",
  "orders",
  "shipping",
  "auth",
  "api-gateway",
  "frontend",
  "reporting",
  "billing-worker",
  "email-worker",
  "analytics-etl",
  "ml-inference",
  "feature-store",
  "audit-log",
  "pricing",
  "catalog",
  "fraud-detection",
  "webhooks",
];

const APP_REGISTRY: Record<ImageCloud, string> = {
  aws: "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme",
  gcp: "us-docker.pkg.dev/acme-prod/apps",
  azure: "acmeprod.azurecr.io/apps",
  kind: "localhost:5001/acme",
};

const POOLS = new Map<ImageCloud, ImageKind[]>();

/** The images a node of `cloud` may hold besides its system images. */
export function imagePool(cloud: ImageCloud): ImageKind[] {
  let pool = POOLS.get(cloud);
  if (pool) return pool;
  const apps = APPS.map((app, i) => ({
    repo: `${APP_REGISTRY[cloud]}/${app}`,
    tags: Array.from({ length: 8 }, (_, k) => `v${1 + (i % 4)}.${10 + k}.${(i * 7 + k * 3) % 13}`),
    mb: 60 + (i * 97) % 800,
  }));
  pool = [...COMMON, ...apps];
  POOLS.set(cloud, pool);
  return pool;
}
