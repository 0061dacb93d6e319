// Policy files an attacker (or a tired SRE) could write to node-heal's ConfigMap, as issue 27 found
// them: each crashed, froze or misled node-heal before it was bounded. Shared by
// tests/integration/decide/policy_hostile_test.ts and tests/bench/hostile_policy.ts.

/** The secret a policy wrote inline by mistake: it must appear in no log, Event or error. */
export const INLINE_SECRET = "XXXXSECRETXXXX";

/** One big map of about `size` bytes under an unknown key, aliased 99 times (899 KB: 90 MB). */
function aliases(size: number): string {
  let body = "";
  for (let i = 0; body.length < size; i++) body += `    k${i}: "${"v".repeat(30)}"\n`;
  return `bogus:\n  big: &m\n${body}  copies:\n${"    - *m\n".repeat(99)}`;
}

/** The hostile files, by name: each a function of nothing giving the file's text. */
export const HOSTILE_POLICIES = {
  /** 899 KB, 99 aliases of one map under an unknown key. */
  aliases: () => aliases(890_000),
  /** The same under the byte bound: 99 aliases of a 1,500-key map (60 KB, 150,000 values). */
  aliasesSmall: () => aliases(60_000),
  /** 100,000 nested flow sequences, under the byte bound (200 KB). */
  nestedSmall: () => `rules: ${"[ ".repeat(100_000)}\n`,
  /** 200,000 nested flow sequences (400 KB). */
  nested: () => `rules: ${"[ ".repeat(200_000)}\n`,
  /** 200,000 nested block sequences on one line (400 KB). */
  nestedBlock: () => `rules:\n  ${"- ".repeat(200_000)}x\n`,
  /** 51 MB of list items. */
  huge: () => `gates: { minHealthy: 0 }\nx:\n${"  - a\n".repeat(8_500_000)}`,
  /** A Slack URL written inline (`url:`) instead of named (`urlFile:`). */
  inlineSecret: () =>
    `notify:\n  - name: ops\n    type: slack\n    url: https://hooks.slack.com/services/T0/B0/${INLINE_SECRET}\n`,
  /** A Slack sink whose URL's file is a device that never ends (read whole: 7.8 GB in 24 s). */
  secretDevice: () => `notify:\n  - name: ops\n    type: slack\n    urlFile: /dev/zero\n`,
  /** A Slack URL written where its file's path belongs. */
  secretInFileField: () =>
    `notify:\n  - name: ops\n    type: slack\n    urlFile: https://hooks.slack.com/services/T0/B0/${INLINE_SECRET}\n`,
  /** A duration no timer can wait. */
  duration: () =>
    `rules: [{ name: heal, match: ['heal="true"'], actions: [drain], drainAfter: 99999999999h }]\n`,
  /** Every alert, no heal opt-in, replace by default, nothing must stay healthy. */
  dangerous: () =>
    `rules:\n  - name: all\n    match: ['alertname=~".+"']\n    actions: [replace]\n` +
    `    replace: { provider: karpenter }\n` +
    `gates: { minHealthy: 0, maxReplacing: 3, replaceRate: { max: 10, window: 1h }, ` +
    `rate: { max: 10, window: 1h } }\n`,
} as const;

/** Writes the hostile file `name` into `dir`; its path. */
export async function writeHostilePolicy(
  dir: string,
  name: keyof typeof HOSTILE_POLICIES,
): Promise<string> {
  const path = `${dir}/${name}.yaml`;
  await Deno.writeTextFile(path, HOSTILE_POLICIES[name]());
  return path;
}
