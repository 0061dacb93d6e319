// What an alert label names as a host, read so that it can only equal a Node's name or address
// exactly: every target Prometheus scrapes, and every cluster an Alertmanager serves, writes these
// labels. Case is folded for ASCII letters alone (`toLowerCase()` folds the Kelvin sign U+212A to
// "k"), IPv6 addresses compare in their RFC 5952 form, and a value that is no host name or address
// at all (an empty label, dots after the root's, a control character, over 253 characters) names
// nothing.

/** The longest DNS name (RFC 1035): a host name longer than this names no Node. */
export const MAX_HOST_LENGTH = 253;

/** The longest label of a DNS name (RFC 1035). */
const MAX_LABEL_LENGTH = 63;

/** A host read from a label: an IP address or a name, in the form the index keeps. */
export interface Host {
  kind: "ipv4" | "ipv6" | "name";
  /** The address or name, ASCII letters lowercased, IPv6 in RFC 5952 form, no root dot. */
  key: string;
}

/** Why a value names no host. */
export interface NotAHost {
  invalid: string;
}

/** `text` with ASCII letters lowercased and every other character as it is. */
export function foldAscii(text: string): string {
  return text.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
}

/** Control and format characters, and every kind of space: no host or address has one. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Z}]/u;

/** What nearly every value is, and has none of those: the cheap test first. */
const PRINTABLE_ASCII = /^[!-~]*$/;

const BAD_PORT = "a port that is not a number from 0 to 65535";

/** Labels of 1 to 63 characters, joined by dots. */
const LABELS = /^[^.]{1,63}(?:\.[^.]{1,63})*$/;

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/**
 * Reads a label value as a host, with or without a port: `IPv4`, `IPv4:port`, `IPv6`,
 * `[IPv6]:port`, `name`, `name:port`; a name may end in one root dot (`name.`).
 */
export function parseHost(value: string): Host | NotAHost {
  // `[IPv6]:65535` is 8 characters longer than the address; anything longer is no host.
  if (value.length > MAX_HOST_LENGTH + 8) {
    return { invalid: `longer than ${MAX_HOST_LENGTH} characters` };
  }
  if (!PRINTABLE_ASCII.test(value) && UNPRINTABLE.test(value)) {
    return { invalid: "a control character or a space" };
  }
  const bracketed = /^\[([^\]]*)\](?::(\d{1,5}))?$/.exec(value);
  if (bracketed) {
    if (bracketed[2] !== undefined && Number(bracketed[2]) > 65535) return { invalid: BAD_PORT };
    const ip = canonicalIpv6(bracketed[1]);
    return ip === undefined
      ? { invalid: "brackets around no IPv6 address" }
      : { kind: "ipv6", key: ip };
  }
  const colon = value.indexOf(":");
  if (colon >= 0 && value.indexOf(":", colon + 1) >= 0) {
    const ip = canonicalIpv6(value);
    return ip === undefined ? { invalid: "no IPv6 address" } : { kind: "ipv6", key: ip };
  }
  let host = value;
  if (colon >= 0) {
    const port = value.slice(colon + 1);
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return { invalid: BAD_PORT };
    host = value.slice(0, colon);
  }
  return parseName(host);
}

/** Reads a host without a port: an IPv4 address, or a name of non-empty labels. */
function parseName(host: string): Host | NotAHost {
  if (IPV4.test(host)) return { kind: "ipv4", key: host };
  // One root dot may end a fully qualified name; more is no name.
  if (host.endsWith("..")) return { invalid: "more than one trailing dot" };
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name === "") return { invalid: "empty" };
  if (IPV4.test(name)) return { invalid: "an IP address with a trailing dot" };
  if (name.length > MAX_HOST_LENGTH) {
    return { invalid: `longer than ${MAX_HOST_LENGTH} characters` };
  }
  if (!LABELS.test(name)) {
    return name.split(".").includes("")
      ? { invalid: "an empty label" }
      : { invalid: `a label longer than ${MAX_LABEL_LENGTH} characters` };
  }
  return { kind: "name", key: /[A-Z]/.test(name) ? foldAscii(name) : name };
}

/**
 * A Node's address as the index keeps it: an IPv6 address in RFC 5952 form, anything else as
 * {@link parseHost} reads a name; undefined for an address that could never be matched.
 */
export function addressKey(address: string): string | undefined {
  if (address.includes(":")) return canonicalIpv6(address);
  const host = parseName(address);
  const printable = PRINTABLE_ASCII.test(address) || !UNPRINTABLE.test(address);
  return "key" in host && printable ? host.key : undefined;
}

/** A name's first label and the rest (its domain), or undefined for a name of one label. */
export function splitDomain(name: string): { first: string; domain: string } | undefined {
  const dot = name.indexOf(".");
  return dot > 0 ? { first: name.slice(0, dot), domain: name.slice(dot + 1) } : undefined;
}

/**
 * An IPv6 address in RFC 5952 form (lowercase hex, no leading zeros, the longest run of two or
 * more zero groups as `::`), or undefined when `text` is none. A zone (`%eth0`) is refused: a
 * Node's address carries none.
 */
export function canonicalIpv6(text: string): string | undefined {
  if (text.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(text)) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] === "" ? [] : halves[0].split(":");
  const tail = halves.length === 2 && halves[1] !== "" ? halves[1].split(":") : [];
  const groups = [...head, ...tail];
  // An IPv4 address may end it (`::ffff:192.0.2.1`): two groups.
  const last = groups.at(-1) ?? "";
  let v4: number[] = [];
  if (last.includes(".")) {
    // Only as the last two groups: `1.2.3.4::` is none.
    if (!IPV4.test(last) || (halves.length === 2 && tail.length === 0)) return undefined;
    const octets = last.split(".").map(Number);
    if (octets.some((o) => o > 255)) return undefined;
    v4 = [(octets[0] << 8) | octets[1], (octets[2] << 8) | octets[3]];
    (tail.length > 0 ? tail : head).pop();
  }
  const hex = [...head, ...tail];
  if (!hex.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return undefined;
  const count = hex.length + v4.length;
  if (halves.length === 1 ? count !== 8 : count > 7) return undefined;
  const filled = halves.length === 2 ? 8 - count : 0;
  const words = [
    ...head.map((g) => parseInt(g, 16)),
    ...new Array<number>(filled).fill(0),
    ...tail.map((g) => parseInt(g, 16)),
    ...v4,
  ];
  return rfc5952(words);
}

/** Eight 16-bit words written as RFC 5952 says. */
function rfc5952(words: number[]): string {
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best.at < 0) return hex.join(":");
  return `${hex.slice(0, best.at).join(":")}::${hex.slice(best.at + best.length).join(":")}`;
}
