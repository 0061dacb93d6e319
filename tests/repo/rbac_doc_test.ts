// docs/deploying.md says what manifests/webhook-deployment.yaml grants, rule by rule: the list is
// made here from the manifest's Roles and ClusterRoles and must be the doc's, word for word, so the
// description cannot undercount again.
import assert from "node:assert/strict";
import { manifest } from "../support/helpers.ts";

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
type Doc = {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
};

/** The sentence that opens the list in docs/deploying.md. */
const LEAD = "`webhook-deployment.yaml` gives node-heal's ServiceAccount exactly these rights:";

const code = (s: string) => `\`${s}\``;

/** One line of the list: a Role or ClusterRole, where it applies, and its rules. */
function describeRole(role: Doc): string {
  const where = role.kind === "Role" ? ` in ${code(role.metadata.namespace!)}` : "";
  const rules = role.rules!.map((r) => {
    const only = r.resourceNames ? ` of ${r.resourceNames.map(code).join(", ")} only` : "";
    return `${r.resources.join(", ")} ${r.verbs.map(code).join(", ")}${only}`;
  });
  return `${role.kind} ${code(role.metadata.name)}${where}: ${rules.join("; ")}`;
}

/** The items of the Markdown list in the paragraph after `lead`, each joined onto one line. */
function listAfter(markdown: string, lead: string): string[] {
  const blocks = markdown.split(/\n\s*\n/);
  const at = blocks.findIndex((b) => b.replace(/\s+/g, " ").trim() === lead);
  assert.ok(at >= 0, `docs/deploying.md has the paragraph "${lead}"`);
  const items: string[] = [];
  for (const line of (blocks[at + 1] ?? "").split("\n")) {
    if (line.startsWith("- ")) items.push(line.slice(2));
    else if (line.startsWith("  ") && items.length) items[items.length - 1] += ` ${line.trim()}`;
    else break;
  }
  return items;
}

Deno.test("docs/deploying.md lists every rule of every Role and ClusterRole the Deployment is given, and no other", async () => {
  const docs = await manifest("webhook-deployment.yaml") as Doc[];
  const roles = docs.filter((d) => d.kind === "Role" || d.kind === "ClusterRole");
  assert.equal(roles.length, 4);
  const doc = await Deno.readTextFile(new URL("../../docs/deploying.md", import.meta.url));
  assert.deepEqual(listAfter(doc, LEAD), roles.map(describeRole));
});

Deno.test("each of those roles is bound to node-heal's ServiceAccount alone", async () => {
  const docs = await manifest("webhook-deployment.yaml") as Doc[];
  for (const role of docs.filter((d) => d.kind === "Role" || d.kind === "ClusterRole")) {
    const bindings = docs.filter((d) =>
      d.roleRef?.kind === role.kind && d.roleRef.name === role.metadata.name &&
      d.metadata.namespace === role.metadata.namespace
    );
    assert.equal(bindings.length, 1, `${role.kind} ${role.metadata.name} has one binding`);
    assert.deepEqual(bindings[0].subjects, [
      { kind: "ServiceAccount", name: "node-heal", namespace: "node-heal" },
    ]);
  }
});

Deno.test("the description names the resource, the verbs and the only names a rule allows", () => {
  assert.equal(
    describeRole({
      kind: "Role",
      metadata: { name: "r", namespace: "ns" },
      rules: [
        { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
        { apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: ["key"] },
      ],
    }),
    "Role `r` in `ns`: secrets `create`; secrets `get` of `key` only",
  );
});

Deno.test("docs/deploying.md's table row for webhook-deployment.yaml names every kind of object in it", async () => {
  const docs = await manifest("webhook-deployment.yaml") as Doc[];
  const doc = await Deno.readTextFile(new URL("../../docs/deploying.md", import.meta.url));
  const row = doc.split("\n").find((l) => l.startsWith("| `webhook-deployment.yaml`"));
  assert.ok(row, "the table has a row for webhook-deployment.yaml");
  for (const kind of new Set(docs.map((d) => d.kind))) {
    assert.ok(row.includes(kind), `the row names ${kind}`);
  }
});
