/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): one byte sequence per JSON value, so an archive entry can be
 * hashed and signed and anyone can recompute the same bytes from the parsed value.
 *
 * Only the I-JSON data model is accepted (RFC 8785 §3.1): null, booleans, finite numbers, well-formed strings,
 * arrays and plain objects. Anything else throws a TypeError instead of being silently coerced the way
 * JSON.stringify would (dates, functions, NaN, lone surrogates), because a coerced value could not be
 * recovered from the archive bytes.
 */

/** Matches a UTF-16 surrogate that is not part of a valid pair (RFC 8785 §3.2.2.2 requires well-formed strings). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Serialises `value` as its RFC 8785 canonical JSON text; throws TypeError for values outside I-JSON. */
export function canonicalize(value: unknown): string {
  const out: string[] = [];
  write(value, out, new Set<object>(), '$');
  return out.join('');
}

/** The UTF-8 bytes of `canonicalize(value)` (RFC 8785 §3.2.4: the canonical form is UTF-8 encoded). */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}

function write(value: unknown, out: string[], open: Set<object>, path: string): void {
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      out.push(serializeNumber(value, path));
      return;
    case 'string':
      out.push(serializeString(value, path));
      return;
    case 'object':
      break;
    default:
      // undefined, bigint, symbol, function: JSON has no representation for them (RFC 8785 §3.1).
      throw new TypeError(`JCS: unsupported ${typeof value} at ${path}`);
  }
  const obj = value as object;
  if (open.has(obj)) throw new TypeError(`JCS: cyclic structure at ${path}`);
  open.add(obj);
  if (Array.isArray(obj)) {
    // Arrays keep their element order (RFC 8785 §3.2.3 sorts object members only).
    out.push('[');
    for (let i = 0; i < obj.length; i++) {
      if (i > 0) out.push(',');
      const element: unknown = obj[i];
      if (element === undefined) throw new TypeError(`JCS: undefined array element at ${path}[${i}]`);
      write(element, out, open, `${path}[${i}]`);
    }
    out.push(']');
  } else {
    const proto: unknown = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`JCS: only plain objects are supported at ${path}`);
    }
    const record = obj as Record<string, unknown>;
    // Members with an undefined value are absent, as in JSON.stringify; the rest are sorted by UTF-16 code
    // units (RFC 8785 §3.2.3), which is exactly what the default Array.prototype.sort comparison does.
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    out.push('{');
    keys.forEach((key, i) => {
      if (i > 0) out.push(',');
      out.push(serializeString(key, path), ':');
      write(record[key], out, open, `${path}.${key}`);
    });
    out.push('}');
  }
  open.delete(obj);
}

/**
 * RFC 8785 §3.2.2.3: numbers are IEEE 754 doubles serialised with the ECMAScript Number.prototype.toString
 * algorithm (shortest round-trip digits); -0 becomes "0". NaN and the infinities have no JSON form.
 */
function serializeNumber(n: number, path: string): string {
  if (!Number.isFinite(n)) throw new TypeError(`JCS: ${String(n)} is not a valid JSON number at ${path}`);
  return String(n);
}

/**
 * RFC 8785 §3.2.2.2: strings use the minimal JSON escapes (\" \\ \b \f \n \r \t, other controls as lowercase
 * \u00xx) and everything else verbatim. JSON.stringify produces exactly that for well-formed strings; it would
 * escape a lone surrogate instead of failing, so those are rejected first.
 */
function serializeString(s: string, path: string): string {
  if (LONE_SURROGATE.test(s)) throw new TypeError(`JCS: string with a lone surrogate at ${path}`);
  return JSON.stringify(s);
}
