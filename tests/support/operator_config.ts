// The Alertmanager configuration the prometheus-operator makes from an AlertmanagerConfig, for
// tests that route alerts through it with the real amtool and Alertmanager
// (tests/e2e/routes_test.ts, tests/repo/paging_routes_test.ts).
import assert from "node:assert/strict";

// deno-lint-ignore no-explicit-any
type Config = any;

type Matcher = { name: string; matchType?: string; value: string };

/**
 * The configuration the prometheus-operator generates from an AlertmanagerConfig with the
 * OnNamespace strategy, on top of `base` (as in its golden files, pkg/alertmanager/testdata):
 * the route goes first among the top route's routes, with namespace="<its namespace>" as its
 * first matcher and continue: true; receivers are named <namespace>/<name>/<receiver>; Secret
 * references are resolved into the configuration. It refuses fields it does not translate.
 */
export function operatorConfig(
  base: Config,
  amc: Config,
  secret: (ref: unknown) => string,
): Config {
  const config = structuredClone(base);
  const { namespace, name } = amc.metadata;
  const prefixed = (receiver: string) => `${namespace}/${name}/${receiver}`;
  const r = amc.spec.route;
  const routeFields = [
    "receiver",
    "matchers",
    "groupBy",
    "groupWait",
    "groupInterval",
    "repeatInterval",
  ];
  for (const k of Object.keys(r)) assert.ok(routeFields.includes(k), `route.${k} translated`);
  const matcher = (m: Matcher) => `${m.name}${m.matchType ?? "="}${JSON.stringify(m.value)}`;
  const route = {
    receiver: prefixed(r.receiver),
    group_by: r.groupBy,
    matchers: [`namespace="${namespace}"`, ...(r.matchers ?? []).map(matcher)],
    continue: true,
    group_wait: r.groupWait,
    group_interval: r.groupInterval,
    repeat_interval: r.repeatInterval,
  };
  config.route.routes = [route, ...(config.route.routes ?? [])];
  for (const receiver of amc.spec.receivers) {
    assert.deepEqual(Object.keys(receiver).sort(), ["name", "webhookConfigs"]);
    config.receivers.push({
      name: prefixed(receiver.name),
      webhook_configs: receiver.webhookConfigs.map((w: Config) => {
        assert.deepEqual(Object.keys(w).sort(), ["httpConfig", "sendResolved", "url"]);
        assert.deepEqual(Object.keys(w.httpConfig), ["authorization"]);
        const auth = w.httpConfig.authorization;
        return {
          url: w.url,
          send_resolved: w.sendResolved,
          http_config: {
            authorization: { type: auth.type, credentials: secret(auth.credentials) },
          },
        };
      }),
    });
  }
  return config;
}
