import { badRequest } from "./errors.ts";

/** One requirement of a label selector, as `kubectl get -l` and client libraries write them. */
export interface LabelRequirement {
  key: string;
  op: "=" | "!=" | "in" | "notin" | "exists" | "!";
  values: string[];
}

/** A parsed label selector: every requirement must hold. */
export type LabelSelector = LabelRequirement[];

/** One requirement of a field selector. */
export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

/** A parsed field selector: every requirement must hold. */
export type FieldSelector = FieldRequirement[];

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (ch === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

const SET_OP = /^([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)$/;
const EQ_OP = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/;
const KEY = /^(!?)\s*([^\s!=(),]+)$/;

/** Parses a label selector such as `app=web,tier in (a,b),!canary`; throws 400 when malformed. */
export function parseLabelSelector(text: string | null): LabelSelector {
  if (!text) return [];
  return splitTopLevel(text).map((part) => {
    let m = SET_OP.exec(part);
    if (m) {
      const values = m[3].split(",").map((v) => v.trim()).filter((v) => v !== "");
      return { key: m[1], op: m[2] as "in" | "notin", values };
    }
    m = EQ_OP.exec(part);
    if (m) return { key: m[1], op: m[2] === "!=" ? "!=" : "=", values: [m[3]] };
    m = KEY.exec(part);
    if (m) return { key: m[2], op: m[1] === "!" ? "!" : "exists", values: [] };
    throw badRequest(`unable to parse requirement: found '${part}', expected a label requirement`);
  });
}

/** Whether `labels` satisfy every requirement of `selector`. */
export function matchesLabels(
  selector: LabelSelector,
  labels: Record<string, string> | undefined,
): boolean {
  const l = labels ?? {};
  return selector.every((r) => {
    const has = Object.hasOwn(l, r.key);
    switch (r.op) {
      case "=":
        return has && l[r.key] === r.values[0];
      case "!=":
        return !has || l[r.key] !== r.values[0];
      case "in":
        return has && r.values.includes(l[r.key]);
      case "notin":
        return !has || !r.values.includes(l[r.key]);
      case "exists":
        return has;
      case "!":
        return !has;
    }
  });
}

/** A `metav1.LabelSelector` object as PodDisruptionBudgets and workloads carry it. */
export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

const EXPRESSION_OPS: Readonly<Record<string, LabelRequirement["op"]>> = {
  In: "in",
  NotIn: "notin",
  Exists: "exists",
  DoesNotExist: "!",
};

/** The requirements of a LabelSelector object; undefined when it matches nothing (missing, or with an unknown operator). */
function requirementsOf(
  selector: LabelSelectorObject | undefined | null,
): LabelSelector | undefined {
  if (!selector) return undefined;
  const requirements: LabelSelector = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    requirements.push({ key, op: "=", values: [value] });
  }
  for (const e of selector.matchExpressions ?? []) {
    if (!Object.hasOwn(EXPRESSION_OPS, e.operator)) return undefined;
    requirements.push({ key: e.key, op: EXPRESSION_OPS[e.operator], values: e.values ?? [] });
  }
  return requirements;
}

/** Whether `labels` match a LabelSelector object; an empty selector matches everything, a missing one nothing. */
export function selectorMatches(
  selector: LabelSelectorObject | undefined | null,
  labels: Record<string, string> | undefined,
): boolean {
  const requirements = requirementsOf(selector);
  return requirements !== undefined && matchesLabels(requirements, labels);
}

/** Splits a field selector on unescaped commas and unescapes `\,` `\=` `\\`. */
function splitEscaped(text: string, sep: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\\" && i + 1 < text.length) {
      current += ch + text[i + 1];
      i++;
    } else if (ch === sep) {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

function unescape(text: string): string {
  return text.replace(/\\(.)/g, "$1");
}

/** Parses a field selector such as `spec.nodeName=a,status.phase!=Failed`; throws 400 when malformed. */
export function parseFieldSelector(text: string | null): FieldSelector {
  if (!text) return [];
  return splitEscaped(text, ",").filter((p) => p.trim() !== "").map((part) => {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part.trim());
    if (!m) throw badRequest(`invalid selector: '${part}'; can't understand '${part}'`);
    return { field: m[1], op: m[2] === "!=" ? "!=" : "=", value: unescape(m[3]) };
  });
}

/** Whether the selectable `fields` of an object satisfy `selector`; unknown fields are rejected with 400. */
export function matchesFields(selector: FieldSelector, fields: Record<string, string>): boolean {
  return selector.every((r) => {
    const actual = fields[r.field];
    return r.op === "=" ? actual === r.value : actual !== r.value;
  });
}

/** Throws 400 when `selector` names a field that `supported` does not contain, as the real server does. */
export function checkFieldsSupported(selector: FieldSelector, supported: readonly string[]): void {
  for (const r of selector) {
    if (!supported.includes(r.field)) {
      throw badRequest(`field label not supported: ${r.field}`);
    }
  }
}
