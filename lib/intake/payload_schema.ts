// The Alertmanager webhook payload (version 4) as zod reads it, and the limits it is held to.
import { z } from "zod";

/** Limits on what one notification may carry; more is refused (400), not half-handled. */
export const LIMITS = {
  alerts: 10_000,
  labels: 64,
  labelName: 256,
  labelValue: 4096,
  annotations: 64,
  annotationValue: 16_384,
  /** Alertmanager's are 16 hex digits; a longer one would be written on the Node and in Events. */
  fingerprint: 64,
  /** `startsAt` and `endsAt`: RFC 3339 times. */
  time: 64,
  receiver: 256,
  groupKey: 8192,
  url: 4096,
} as const;

/** What a fingerprint may hold: printable ASCII without spaces. */
export const FINGERPRINT = /^[\x21-\x7e]*$/;

const labelMap = z.record(z.string().max(LIMITS.labelName), z.string().max(LIMITS.labelValue))
  .refine((m) => Object.keys(m).length <= LIMITS.labels, {
    message: `must have at most ${LIMITS.labels} entries`,
  });
const annotationMap = z.record(
  z.string().max(LIMITS.labelName),
  z.string().max(LIMITS.annotationValue),
).refine((m) => Object.keys(m).length <= LIMITS.annotations, {
  message: `must have at most ${LIMITS.annotations} entries`,
});
/** An alert's (and a notification's) status, as Alertmanager sends it. */
export const ALERT_STATUSES = ["firing", "resolved"] as const;

const status = z.enum(ALERT_STATUSES);

const alertSchema = z.object({
  status,
  labels: labelMap,
  annotations: annotationMap.optional(),
  startsAt: z.string().max(LIMITS.time).optional(),
  endsAt: z.string().max(LIMITS.time).optional(),
  generatorURL: z.string().max(LIMITS.url).optional(),
  fingerprint: z.string().max(LIMITS.fingerprint).regex(FINGERPRINT, {
    message: "must be printable ASCII without spaces",
  }).optional(),
});

/** The Alertmanager webhook payload, version 4. Unknown fields are allowed, as Alertmanager may add some. */
export const payloadSchema = z.object({
  version: z.literal("4"),
  receiver: z.string().max(LIMITS.receiver).optional(),
  status,
  alerts: z.array(alertSchema).max(LIMITS.alerts),
  groupLabels: labelMap.optional(),
  commonLabels: labelMap.optional(),
  commonAnnotations: annotationMap.optional(),
  externalURL: z.string().max(LIMITS.url).optional(),
  groupKey: z.string().max(LIMITS.groupKey).optional(),
  truncatedAlerts: z.number().int().nonnegative().optional(),
});

/** A payload as {@link payloadSchema} accepts it: unknown fields stripped. */
export type Payload = z.output<typeof payloadSchema>;

/** One alert of a {@link Payload}. */
export type PayloadAlert = Payload["alerts"][number];
