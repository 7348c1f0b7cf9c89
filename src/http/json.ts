// Request JSON parsing with rapidjson's number semantics. Triton parses bodies with rapidjson,
// which keeps integers and doubles apart (`1.0` is a double, so INT32 data `[1.0]` is an error)
// and keeps 64-bit integers exact. JSON.parse does neither, so:
// - the fast path is JSON.parse, used when the text cannot contain a number it would get wrong;
// - otherwise (and to produce rapidjson's error text and offset) a small exact parser runs.
// The exact parser yields: safe integers as numbers, other 64-bit integers as bigint,
// integral-valued doubles (`1.0`, `2e3`) as JsonDouble, every other double as a number.
import { InferenceServerError } from '../runtime/errors.js';

/** A JSON number written as a double whose value happens to be integral (`1.0`, `1e2`). */
export class JsonDouble {
  constructor(readonly value: number) {}
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

// Text that JSON.parse could misread: an integral fraction (`1.0`, `2.00`), any exponent, or
// 16+ digit runs (2^53 has 16 digits). Matches inside strings only cost the slow path.
const NEEDS_EXACT = /\d\.0*(?![0-9])|\d[eE]|\d{16}/;

/** Parses a request body; throws Triton's `failed to parse the request JSON buffer` (500). */
export function parseRequestJson(text: string): unknown {
  if (!NEEDS_EXACT.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      // fall through: the exact parser reports rapidjson's message and offset
    }
  }
  return parseJsonExact(text);
}

export class JsonSyntaxError extends InferenceServerError {
  constructor(readonly reason: string, readonly offset: number) {
    super('INTERNAL', `failed to parse the request JSON buffer: ${reason} at ${offset}`);
  }
}

interface Frame {
  arr?: unknown[];
  obj?: Record<string, unknown>;
  key: string;
}

/** Iterative (no recursion, so any nesting depth is safe) exact JSON parser. */
export function parseJsonExact(s: string): unknown {
  let i = 0;
  const n = s.length;
  const stack: Frame[] = [];
  const fail = (reason: string, at: number): never => {
    throw new JsonSyntaxError(reason, Buffer.byteLength(s.slice(0, at)));
  };
  const ws = () => {
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const readString = (): string => {
    // s[i] is the opening quote
    const start = ++i;
    let out = '';
    let chunk = start;
    for (;;) {
      if (i >= n) return fail('Missing a closing quotation mark in string.', i);
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        out += s.slice(chunk, i);
        i++;
        return out;
      }
      if (c === 0x5c) {
        out += s.slice(chunk, i);
        const e = s.charCodeAt(i + 1);
        switch (e) {
          case 0x22: out += '"'; break;
          case 0x5c: out += '\\'; break;
          case 0x2f: out += '/'; break;
          case 0x62: out += '\b'; break;
          case 0x66: out += '\f'; break;
          case 0x6e: out += '\n'; break;
          case 0x72: out += '\r'; break;
          case 0x74: out += '\t'; break;
          case 0x75: {
            const hex = s.slice(i + 2, i + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) return fail('Incorrect hex digit after \\u escape in string.', i + 2);
            out += String.fromCharCode(parseInt(hex, 16));
            i += 4;
            break;
          }
          default: return fail('Invalid escape character in string.', i + 1);
        }
        i += 2;
        chunk = i;
        continue;
      }
      if (c < 0x20) return fail('Invalid encoding in string.', i);
      i++;
    }
  };
  const readNumber = (): unknown => {
    const start = i;
    if (s.charCodeAt(i) === 0x2d) i++;
    const d0 = s.charCodeAt(i);
    if (!(d0 >= 0x30 && d0 <= 0x39)) return fail('Invalid value.', start);
    if (d0 === 0x30) i++;
    else while (i < n && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
    let isDouble = false;
    if (s.charCodeAt(i) === 0x2e) {
      isDouble = true;
      i++;
      const f = i;
      while (i < n && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
      if (i === f) return fail('Miss fraction part in number.', i);
    }
    const e = s.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      isDouble = true;
      i++;
      const sign = s.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      const f = i;
      while (i < n && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
      if (i === f) return fail('Miss exponent in number.', i);
    }
    const text = s.slice(start, i);
    const v = Number(text);
    if (!Number.isFinite(v)) return fail('Number too big to be stored in double.', start);
    if (isDouble) return Number.isInteger(v) ? new JsonDouble(v) : v;
    if (Number.isSafeInteger(v)) return v === 0 ? 0 : v;
    const big = BigInt(text);
    // rapidjson keeps [-2^63, 2^64) as integers; beyond that the number is a double.
    return big >= INT64_MIN && big <= UINT64_MAX ? big : new JsonDouble(v);
  };
  const readKey = (frame: Frame) => {
    ws();
    if (s.charCodeAt(i) !== 0x22) fail('Missing a name for object member.', i);
    frame.key = readString();
    ws();
    if (s.charCodeAt(i) !== 0x3a) fail('Missing a colon after a name of object member.', i);
    i++;
  };

  ws();
  if (i >= n) fail('The document is empty.', i);
  for (;;) {
    // Parse one value starting at i.
    ws();
    let value: unknown;
    const c = s.charCodeAt(i);
    if (c === 0x7b) {
      i++;
      ws();
      if (s.charCodeAt(i) === 0x7d) {
        i++;
        value = {};
      } else {
        const frame: Frame = { obj: {}, key: '' };
        readKey(frame);
        stack.push(frame);
        continue;
      }
    } else if (c === 0x5b) {
      i++;
      ws();
      if (s.charCodeAt(i) === 0x5d) {
        i++;
        value = [];
      } else {
        stack.push({ arr: [], key: '' });
        continue;
      }
    } else if (c === 0x22) {
      value = readString();
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      value = readNumber();
    } else if (s.startsWith('true', i)) {
      i += 4;
      value = true;
    } else if (s.startsWith('false', i)) {
      i += 5;
      value = false;
    } else if (s.startsWith('null', i)) {
      i += 4;
      value = null;
    } else {
      return fail('Invalid value.', i);
    }
    // Attach the finished value to its container, closing containers as they end.
    for (;;) {
      const top = stack[stack.length - 1];
      if (top === undefined) {
        ws();
        if (i < n) fail('The document root must not be followed by other values.', i);
        return value;
      }
      ws();
      const d = s.charCodeAt(i);
      if (top.arr) {
        top.arr.push(value);
        if (d === 0x2c) { i++; break; }
        if (d !== 0x5d) fail("Missing a comma or ']' after an array element.", i);
        i++;
        value = top.arr;
        stack.pop();
      } else {
        const obj = top.obj as Record<string, unknown>;
        // Own property even for "__proto__", as JSON.parse does.
        if (top.key === '__proto__') Object.defineProperty(obj, top.key, { value, enumerable: true, writable: true, configurable: true });
        else obj[top.key] = value;
        if (d === 0x2c) { i++; readKey(top); break; }
        if (d !== 0x7d) fail("Missing a comma or '}' after an object member.", i);
        i++;
        value = obj;
        stack.pop();
      }
    }
  }
}
