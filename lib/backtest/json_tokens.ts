// JSON read token by token as its bytes arrive, for answers too big to hold whole: the bytes of the
// token being read are all it keeps, and a token past its bound (a string over 64 KiB, a number over
// 64 characters) is refused as it grows, so what an answer costs is what its reader keeps of it.

/** The kinds of token: the six structural characters, a string, a number, true, false, null. */
export type TokenKind = "{" | "}" | "[" | "]" | ":" | "," | "string" | "number" | "literal";

/** The longest string token read (bytes, its quotes and escapes included). */
export const MAX_STRING_BYTES = 65_536;
const MAX_NUMBER_CHARS = 64;

/** The bytes are not JSON (or end before the document does). */
export class NotJson extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotJson";
  }
}

/** A token past its bound. */
export class TokenTooLong extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenTooLong";
  }
}

const STRUCTURAL: Record<number, TokenKind> = {
  0x7b: "{",
  0x7d: "}",
  0x5b: "[",
  0x5d: "]",
  0x3a: ":",
  0x2c: ",",
};
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const LITERALS: [string, boolean | null][] = [["true", true], ["false", false], ["null", null]];

/**
 * A JSON tokenizer fed chunk by chunk ({@link push}, then {@link end}): {@link next} reads one token,
 * its {@link kind} and {@link value}, or says it needs more bytes.
 */
export class JsonTokens {
  /** The last token's value: a string's, a number's, true, false or null. */
  value: string | number | boolean | null = null;
  #kind: TokenKind = ",";
  #buf = new Uint8Array(65_536);
  #start = 0;
  #end = 0;
  /** Where the scan of an unfinished string or number stopped. */
  #scan = 0;
  #escaped = false;
  #ended = false;
  #decoder = new TextDecoder();

  /** The kind of the last token read. */
  kind(): TokenKind {
    return this.#kind;
  }

  /** Adds the next bytes of the document. */
  push(chunk: Uint8Array): void {
    if (this.#end + chunk.byteLength > this.#buf.byteLength) {
      // Only the unfinished token is kept: move it to the front, in a bigger buffer if need be.
      const kept = this.#end - this.#start;
      const need = kept + chunk.byteLength;
      if (need > this.#buf.byteLength) {
        const buf = new Uint8Array(Math.max(2 * this.#buf.byteLength, need));
        buf.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = buf;
      } else this.#buf.copyWithin(0, this.#start, this.#end);
      this.#scan -= this.#start;
      this.#start = 0;
      this.#end = kept;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.byteLength;
  }

  /** Says the document has no more bytes: a token still unfinished is then an error. */
  end(): void {
    this.#ended = true;
  }

  /** Whether anything but white space is left after the last token (at the end). */
  rest(): boolean {
    this.#skipSpace();
    return this.#start < this.#end;
  }

  /** Reads the next token; false when its bytes have not all arrived yet. Throws on bad bytes. */
  next(): boolean {
    this.#skipSpace();
    if (this.#start >= this.#end) return this.#more("the document ends early");
    const c = this.#buf[this.#start];
    const structural = STRUCTURAL[c];
    if (structural) {
      this.#kind = structural;
      this.#start++;
      return true;
    }
    if (c === 0x22) return this.#string();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.#number();
    return this.#literal();
  }

  #more(what: string): false {
    if (this.#ended) throw new NotJson(what);
    return false;
  }

  #skipSpace(): void {
    const buf = this.#buf;
    let i = this.#start;
    while (
      i < this.#end && (buf[i] === 0x20 || buf[i] === 0x0a || buf[i] === 0x0d || buf[i] === 0x09)
    ) {
      i++;
    }
    this.#start = i;
    if (this.#scan < i) this.#scan = i;
  }

  #string(): boolean {
    const buf = this.#buf;
    let i = Math.max(this.#scan, this.#start + 1);
    for (; i < this.#end; i++) {
      const b = buf[i];
      if (this.#escaped) this.#escaped = false;
      else if (b === 0x5c) this.#escaped = true;
      else if (b === 0x22) break;
      else if (b < 0x20) throw new NotJson("a control character inside a string");
    }
    if (i - this.#start > MAX_STRING_BYTES) {
      throw new TokenTooLong(`a string longer than ${MAX_STRING_BYTES.toLocaleString("en")} bytes`);
    }
    if (i >= this.#end) {
      this.#scan = i;
      return this.#more("a string is not closed");
    }
    let value = this.#text(this.#start + 1, i);
    if (value.includes("\\")) {
      try {
        value = JSON.parse(`"${value}"`);
      } catch {
        throw new NotJson("a bad escape inside a string");
      }
    }
    this.#kind = "string";
    this.value = value;
    this.#start = this.#scan = i + 1;
    return true;
  }

  /** The bytes [from, to) as text: short ASCII (sample values, label names) without a decoder. */
  #text(from: number, to: number): string {
    const buf = this.#buf;
    if (to - from > 32) return this.#decoder.decode(buf.subarray(from, to));
    let text = "";
    for (let i = from; i < to; i++) {
      if (buf[i] >= 0x80) return this.#decoder.decode(buf.subarray(from, to));
      text += String.fromCharCode(buf[i]);
    }
    return text;
  }

  #number(): boolean {
    const buf = this.#buf;
    let i = this.#start;
    while (i < this.#end && isNumberByte(buf[i])) i++;
    if (i - this.#start > MAX_NUMBER_CHARS) {
      throw new TokenTooLong(`a number longer than ${MAX_NUMBER_CHARS} characters`);
    }
    if (i >= this.#end && !this.#ended) return false;
    const text = this.#text(this.#start, i);
    if (!NUMBER.test(text)) throw new NotJson(`a bad number ${JSON.stringify(text)}`);
    this.#kind = "number";
    this.value = Number(text);
    this.#start = this.#scan = i;
    return true;
  }

  #literal(): boolean {
    for (const [word, value] of LITERALS) {
      if (this.#buf[this.#start] !== word.charCodeAt(0)) continue;
      if (this.#end - this.#start < word.length) return this.#more("the document ends early");
      for (let k = 1; k < word.length; k++) {
        if (this.#buf[this.#start + k] !== word.charCodeAt(k)) throw new NotJson("a bad word");
      }
      this.#kind = "literal";
      this.value = value;
      this.#start = this.#scan = this.#start + word.length;
      return true;
    }
    throw new NotJson("a character that starts no JSON value");
  }
}

function isNumberByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2b || b === 0x2e || b === 0x65 ||
    b === 0x45;
}
