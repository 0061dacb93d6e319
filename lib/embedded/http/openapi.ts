// The OpenAPI documents of the embedded API server: as much of them as kubectl reads.
//
// kubectl create, apply and replace (with the default --validate=strict) first ask /openapi/v3
// whether the server validates fields itself: in the document of the object's group version they
// look for a PATCH operation carrying the object's x-kubernetes-group-version-kind and a
// `fieldValidation` query parameter. Found, kubectl sends `fieldValidation=Strict` and leaves
// validation to the server. Not found (and always for `kind: List` files), it validates on the
// client with the /openapi/v2 schemas, and fails with "failed to download openapi" without them.
//
// Client-side apply computes its strategic merge patch from the /openapi/v3 component schema
// that carries the kind's x-kubernetes-group-version-kind, if the PATCH operation accepts
// application/strategic-merge-patch+json; then from the /openapi/v2 definitions; then from the
// types compiled into kubectl. A schema used this way must describe every field of the kind, or
// kubectl warns and falls back. So the schemas here deliberately carry no group-version-kind
// and /openapi/v2 has no definitions: kubectl computes the patch from its compiled-in types,
// which for built-in kinds say what the real schemas say. The price is that `kubectl explain`
// finds no schema, and that `kind: List` files are not validated on the client.

import { groupVersionDocuments, hashOf } from "./openapi_v3.ts";
import { jsonText } from "../handlers/wire.ts";
import { systemClock } from "../../base/clock.ts";

const V3 = "/openapi/v3";
// Clients ask for `...spec.v2@v1.0+protobuf`; the real server answers with this spelling, which,
// unlike the one with "@", is a media type Go's mime package can parse (client-go must parse it).
const PROTOBUF_V2 = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/** Protobuf length-delimited field `field` holding `bytes`. */
function protoField(field: number, bytes: Uint8Array): Uint8Array {
  if (bytes.length > 127) throw new Error(`Field ${field} is too long for a one-byte length`);
  return new Uint8Array([(field << 3) | 2, bytes.length, ...bytes]);
}

const utf8 = (s: string) => new TextEncoder().encode(s);

/**
 * The OpenAPI v2 document, with no paths and no definitions, as the gnostic `openapi.v2.Document`
 * protobuf kubectl asks for (swagger = 1, info = 2 with title = 1 and version = 2, paths = 8).
 */
const V2_PROTOBUF = new Uint8Array([
  ...protoField(1, utf8("2.0")),
  ...protoField(
    2,
    new Uint8Array([...protoField(1, utf8("Kubernetes")), ...protoField(2, utf8("unversioned"))]),
  ),
  ...protoField(8, new Uint8Array()),
]);
/** The same document as JSON, for clients that ask for JSON. */
const V2_JSON = JSON.stringify({
  swagger: "2.0",
  info: { title: "Kubernetes", version: "unversioned" },
  paths: {},
});

const V2_HEADERS = { vary: "Accept", "cache-control": "no-cache, private" };

/**
 * Serves `/openapi/v3` and `/openapi/v3/<group-version path>` (and whatever else kubectl needs for create/apply/replace), or returns undefined for other paths.
 *
 * `/openapi/v2` is protobuf unless `accept` is given and asks for JSON.
 */
export function serveOpenApi(url: URL, accept?: string | null): Response | undefined {
  const path = url.pathname.replace(/\/+$/, "");
  if (path === "/openapi/v2") {
    if (accept && !accept.includes("protobuf") && /json|\*\/\*/.test(accept)) {
      return jsonText(V2_JSON, 200, { etag: `"${hashOf(V2_JSON)}"`, ...V2_HEADERS });
    }
    return new Response(V2_PROTOBUF, {
      headers: { "content-type": PROTOBUF_V2, etag: `"${hashOf(V2_PROTOBUF)}"`, ...V2_HEADERS },
    });
  }
  if (path === V3) {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const [gv, doc] of groupVersionDocuments()) {
      paths[gv] = { serverRelativeURL: `${V3}/${gv}?hash=${doc.hash}` };
    }
    const text = JSON.stringify({ paths });
    return jsonText(text, 200, { etag: `"${hashOf(text)}"` });
  }
  if (!path.startsWith(`${V3}/`)) return undefined;
  const gv = path.slice(V3.length + 1);
  const doc = groupVersionDocuments().get(gv);
  if (!doc) return undefined;
  const hash = url.searchParams.get("hash");
  const etag = `"${doc.hash}"`;
  if (hash === null) return jsonText(doc.text, 200, { etag, vary: "Accept" });
  if (hash !== doc.hash) {
    // As the real server answers a stale hash: a permanent redirect to the current one.
    return new Response(null, {
      status: 301,
      headers: { location: `${V3}/${gv}?hash=${doc.hash}` },
    });
  }
  // A hashed URL names one version of the document forever, so clients may cache it for a year.
  const expires = new Date(systemClock().getTime() + 365 * 24 * 3600 * 1000).toUTCString();
  return jsonText(doc.text, 200, {
    etag,
    vary: "Accept",
    "cache-control": "public, immutable",
    expires,
  });
}
