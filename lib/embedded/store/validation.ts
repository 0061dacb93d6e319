// Validation of objects on create and update: names as the real server checks them, then the
// checks of each resource type (resource_checks.ts, which the resource table names).

import { invalid, type StatusCause } from "./errors.ts";
import { type KubeObject, meta } from "./objects.ts";
import type { ResourceType } from "./resources.ts";

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Throws 422 Invalid when the name of `obj` or the checks of `type` fail. */
export function validateObject(type: ResourceType, obj: KubeObject): void {
  const name = meta(obj).name ?? "";
  const causes: StatusCause[] = [];
  if (name === "") {
    causes.push({
      reason: "FieldValueRequired",
      message: "metadata.name: Required value: name or generateName is required",
      field: "metadata.name",
    });
  } else {
    const re = type.resource === "namespaces" ? LABEL_NAME_RE : NAME_RE;
    if (!re.test(name) || name.length > 253) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must ` +
          `consist of lower case alphanumeric characters, '-' or '.', and must start and end ` +
          `with an alphanumeric character`,
        field: "metadata.name",
      });
    }
  }
  causes.push(...type.validate(obj));
  if (causes.length > 0) throw invalid({ kind: type.kind, group: type.group, name, causes });
}
