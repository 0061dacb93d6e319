// The ledger record of one replacement: the one a begin writes, made from its Node and rule, and
// the fields that say which Node it is of, which no later write changes.
import type { Node } from "../../base/node.ts";
import { ANNOTATIONS } from "../../decide/node_state.ts";
import type { Gates, Rule } from "../../decide/policy.ts";
import {
  domainLabels,
  MACHINE_ANNOTATIONS,
  poolOf,
  type Replacement,
} from "../../decide/replacements.ts";

/** The record of a replacement of `node` under `rule` starting at `now`, by replica `by`. */
export function newReplacement(
  node: Node,
  rule: Rule,
  now: Date,
  options: { by: string; gates: Gates },
): Replacement {
  const by = options.by;
  const labels = domainLabels(node, options.gates);
  const name = node.metadata.name;
  const cordonedAt = node.metadata.annotations?.[ANNOTATIONS.cordonedAt];
  // Only those naming its Machine: what the cluster-api provider reads.
  const annotations = Object.fromEntries(
    Object.entries(node.metadata.annotations ?? {}).filter(([k]) =>
      (Object.values(MACHINE_ANNOTATIONS) as string[]).includes(k)
    ),
  );
  const pool = poolOf(node, rule.replace!.poolLabel);
  return {
    id: `${name}@${now.getTime().toString(36)}`,
    node: name,
    ...(node.metadata.uid ? { uid: node.metadata.uid } : {}),
    ...(node.spec?.providerID ? { providerID: node.spec.providerID } : {}),
    ...(pool ? { pool } : {}),
    ...(labels ? { labels } : {}),
    ...(Object.keys(annotations).length ? { annotations } : {}),
    provider: rule.replace!.provider,
    rule: rule.name,
    ...(cordonedAt ? { cordonedAt } : {}),
    startedAt: now.toISOString(),
    deadline: new Date(now.getTime() + rule.replace!.timeoutMs).toISOString(),
    by,
    phase: "starting",
  };
}

/** The fields that say which Node a replacement is of, and since when: never changed by a write. */
export function identityOf(r: Replacement): Partial<Replacement> {
  const { node, uid, providerID, pool, labels, annotations, provider, rule, startedAt } = r;
  const fields = { node, uid, providerID, pool, labels, annotations, provider, rule, startedAt };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}
