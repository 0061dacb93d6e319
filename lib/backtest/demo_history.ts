// The history `node-heal backtest --demo` serves: a fixed week of a small cluster, the same at
// every run. A control plane and eight workers, one of them cordoned by a person all week; alerts
// that come and go, a filesystem alert that flaps, a switch that makes one worker after another
// lose packets, an alert on the control plane, one from a host outside the cluster, and a storm (a
// kernel rollout that makes six workers short of memory at once) that the gates hold back.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The demo's week: Monday 2026-11-02 to Monday 2026-11-09, UTC. */
export const DEMO_WINDOW = {
  from: new Date("2026-11-02T00:00:00Z"),
  to: new Date("2026-11-09T00:00:00Z"),
};

/** Where `--demo` writes its HTML page unless `--html` says. */
export const DEMO_HTML = "backtest-demo.html";

/** The alert rules' evaluation interval of the demo's history (`--eval-interval`'s default). */
export const DEMO_EVAL_MS = MINUTE;

/** A Node of the demo, as kube-state-metrics shows it. */
export interface DemoNode {
  name: string;
  internalIP: string;
  zone: string;
  /** `control-plane` for the control plane. */
  role?: string;
  /** Unschedulable at the week's start (cordoned by a person). */
  cordoned?: boolean;
}

/** One firing period of one alert: evaluated firing from `start` (included) to `end` (excluded). */
export interface DemoEpisode {
  labels: Record<string, string>;
  start: Date;
  end: Date;
}

function worker(n: number): DemoNode {
  return {
    name: `worker-${n}`,
    internalIP: `10.0.1.${10 + n}`,
    zone: n % 2 === 1 ? "eu-west-1a" : "eu-west-1b",
    ...(n === 8 ? { cordoned: true } : {}),
  };
}

/** The demo's Nodes: `cp-1` and `worker-1` to `worker-8` (`worker-8` cordoned for maintenance). */
export const DEMO_NODES: readonly DemoNode[] = [
  { name: "cp-1", internalIP: "10.0.0.10", zone: "eu-west-1a", role: "control-plane" },
  ...[1, 2, 3, 4, 5, 6, 7, 8].map(worker),
];

/** The time `day` days and `hhmm` (minutes past 59 carry on) into the demo's week. */
function at(day: number, hhmm: string): Date {
  const [h, m] = hhmm.split(":").map(Number);
  return new Date(DEMO_WINDOW.from.getTime() + day * DAY + h * HOUR + m * MINUTE);
}

/** One alert on the node with this InternalIP (or a host outside the cluster) from `from` for `minutes`. */
function alert(
  alertname: string,
  ip: string,
  when: { day: number; from: string; minutes: number },
): DemoEpisode {
  const start = at(when.day, when.from);
  return {
    labels: {
      alertname,
      heal: "true",
      instance: `${ip}:9100`,
      job: "node-exporter",
      severity: "warning",
    },
    start,
    end: new Date(start.getTime() + when.minutes * MINUTE),
  };
}

const ip = (name: string) => DEMO_NODES.find((n) => n.name === name)!.internalIP;

/** The firing periods of the demo's week, generated the same way at every run. */
export function demoEpisodes(): DemoEpisode[] {
  const out: DemoEpisode[] = [
    // Monday: one worker runs hot for half an hour.
    alert("NodeHighCPU", ip("worker-2"), { day: 0, from: "09:12", minutes: 35 }),
    // Tuesday: the control plane runs hot (protected: never touched).
    alert("NodeHighCPU", ip("cp-1"), { day: 1, from: "14:00", minutes: 30 }),
    // Thursday: six workers short of memory for an hour after a kernel rollout (the storm).
    ...[1, 2, 3, 4, 5, 6].map((n) =>
      alert("NodeMemoryPressure", ip(`worker-${n}`), { day: 3, from: "03:00", minutes: 70 })
    ),
    // Saturday: an exporter on a host outside the cluster.
    alert("NodeHighCPU", "10.0.9.9", { day: 5, from: "12:00", minutes: 30 }),
    // Sunday: a disk that reports errors.
    alert("NodeDiskErrors", ip("worker-6"), { day: 6, from: "16:20", minutes: 45 }),
  ];
  // Wednesday: a filesystem alert on worker-5 that flaps, 15 minutes on, 5 off, five times.
  for (let i = 0; i < 5; i++) {
    out.push(
      alert("NodeFilesystemAlmostFull", ip("worker-5"), {
        day: 2,
        from: `10:${i * 20}`,
        minutes: 15,
      }),
    );
  }
  // Friday: a flapping top-of-rack switch: each worker in turn loses packets for 6 minutes.
  for (let n = 1; n <= 7; n++) {
    const from = `08:${(n - 1) * 8}`;
    out.push(alert("NodeNetworkErrors", ip(`worker-${n}`), { day: 4, from, minutes: 6 }));
  }
  return out.sort((a, b) => a.start.getTime() - b.start.getTime());
}
