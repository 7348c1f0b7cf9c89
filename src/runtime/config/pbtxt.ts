// Protocol-buffer text format, as Triton's config.pbtxt uses it. The parser is schema-less: it
// returns every field as a list of values (singular or repeated alike); the schema-aware step in
// proto-schema.ts decides what a field means. Identifiers stay distinguishable from quoted strings
// so that enum values and `true`/`false` can be checked by that step.

/** An unquoted identifier (enum value, `true`, `inf`, ...). */
export class PbIdent {
  constructor(readonly name: string) {}
}

export type PbValue = string | number | PbIdent | PbMessage;

/** One message: field name → values in the order they appeared. */
export class PbMessage {
  readonly fields = new Map<string, PbValue[]>();

  add(name: string, value: PbValue): void {
    const list = this.fields.get(name);
    if (list) list.push(value);
    else this.fields.set(name, [value]);
  }
}

export class PbtxtError extends Error {
  constructor(readonly line: number, readonly column: number, detail: string) {
    super(`${line}:${column}: ${detail}`);
    this.name = 'PbtxtError';
  }
}

type TokenKind = 'ident' | 'number' | 'string' | 'punct' | 'eof';

interface Token {
  kind: TokenKind;
  text: string;
  /** Decoded value for strings. */
  value?: string;
  line: number;
  column: number;
}

const PUNCT = new Set(['{', '}', '<', '>', '[', ']', ':', ',', ';']);
const SIMPLE_ESCAPES: Record<string, string> = {
  n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?',
};

class Lexer {
  private pos = 0;
  private line = 1;
  private col = 1;

  constructor(private readonly src: string) {}

  private fail(detail: string, line = this.line, col = this.col): never {
    throw new PbtxtError(line, col, detail);
  }

  private advance(): string {
    const ch = this.src[this.pos++]!;
    if (ch === '\n') { this.line++; this.col = 1; } else this.col++;
    return ch;
  }

  private skipSpaceAndComments(): void {
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos]!;
      if (ch === '#') {
        while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.advance();
      } else if (/\s/.test(ch)) {
        this.advance();
      } else {
        return;
      }
    }
  }

  next(): Token {
    this.skipSpaceAndComments();
    const line = this.line;
    const column = this.col;
    if (this.pos >= this.src.length) return { kind: 'eof', text: '', line, column };
    const ch = this.src[this.pos]!;
    if (PUNCT.has(ch)) {
      this.advance();
      return { kind: 'punct', text: ch, line, column };
    }
    if (ch === '"' || ch === "'") return this.string(line, column);
    const m = /^(?:-?\s*(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[fF]?)|-?[A-Za-z_][A-Za-z0-9_.]*)/
      .exec(this.src.slice(this.pos, this.pos + 256));
    if (!m) this.fail(`unexpected character '${ch}'`);
    const text = m[0];
    for (let i = 0; i < text.length; i++) this.advance();
    const isNumber = /^-?\s*[0-9.]/.test(text);
    return { kind: isNumber ? 'number' : 'ident', text: text.replace(/\s+/g, ''), line, column };
  }

  private string(line: number, column: number): Token {
    const quote = this.advance();
    const bytes: number[] = [];
    const pushText = (s: string) => { for (const b of Buffer.from(s, 'utf8')) bytes.push(b); };
    for (;;) {
      if (this.pos >= this.src.length) this.fail('unterminated string', line, column);
      const ch = this.advance();
      if (ch === quote) break;
      if (ch === '\n') this.fail('newline in string', line, column);
      if (ch !== '\\') { pushText(ch); continue; }
      const e = this.advance();
      if (e in SIMPLE_ESCAPES) { pushText(SIMPLE_ESCAPES[e]!); continue; }
      if (e === 'x' || e === 'X') {
        const hex = /^[0-9a-fA-F]{1,2}/.exec(this.src.slice(this.pos))?.[0];
        if (!hex) this.fail('invalid \\x escape');
        for (let i = 0; i < hex.length; i++) this.advance();
        bytes.push(parseInt(hex, 16));
        continue;
      }
      if (/[0-7]/.test(e)) {
        let oct = e;
        while (oct.length < 3 && /[0-7]/.test(this.src[this.pos] ?? '')) oct += this.advance();
        bytes.push(parseInt(oct, 8) & 0xff);
        continue;
      }
      if (e === 'u' || e === 'U') {
        const len = e === 'u' ? 4 : 8;
        const hex = this.src.slice(this.pos, this.pos + len);
        if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) this.fail(`invalid \\${e} escape`);
        for (let i = 0; i < len; i++) this.advance();
        pushText(String.fromCodePoint(parseInt(hex, 16)));
        continue;
      }
      this.fail(`invalid escape '\\${e}'`);
    }
    return { kind: 'string', text: quote, value: Buffer.from(bytes).toString('utf8'), line, column };
  }
}

class Parser {
  private tok: Token;

  constructor(private readonly lexer: Lexer) {
    this.tok = lexer.next();
  }

  private fail(detail: string, t: Token = this.tok): never {
    throw new PbtxtError(t.line, t.column, detail);
  }

  private describe(t: Token): string {
    return t.kind === 'eof' ? 'end of input' : `'${t.text}'`;
  }

  private take(): Token {
    const t = this.tok;
    this.tok = this.lexer.next();
    return t;
  }

  private isPunct(p: string): boolean {
    return this.tok.kind === 'punct' && this.tok.text === p;
  }

  private expectPunct(p: string): void {
    if (!this.isPunct(p)) this.fail(`expected '${p}' but found ${this.describe(this.tok)}`);
    this.take();
  }

  /** Fields until `close` (a punctuation) or end of input when close is undefined. */
  message(close?: string): PbMessage {
    const msg = new PbMessage();
    for (;;) {
      if (close === undefined && this.tok.kind === 'eof') return msg;
      if (close !== undefined && this.isPunct(close)) { this.take(); return msg; }
      if (this.tok.kind === 'eof') this.fail(`expected '${close}' but found end of input`);
      this.field(msg);
      if (this.isPunct(',') || this.isPunct(';')) this.take();
    }
  }

  private field(msg: PbMessage): void {
    let name: string;
    if (this.isPunct('[')) {
      // Extension or Any type URL: `[pkg.ext] { ... }`; kept under its bracketed name.
      this.take();
      const parts: string[] = [];
      while (!this.isPunct(']')) {
        if (this.tok.kind === 'eof') this.fail("expected ']' but found end of input");
        parts.push(this.take().text);
      }
      this.take();
      name = `[${parts.join('')}]`;
    } else {
      if (this.tok.kind !== 'ident') this.fail(`expected a field name but found ${this.describe(this.tok)}`);
      name = this.take().text;
    }
    if (this.isPunct(':')) {
      this.take();
      if (this.isPunct('[')) { this.list(msg, name); return; }
      msg.add(name, this.value());
      return;
    }
    if (this.isPunct('{') || this.isPunct('<')) { msg.add(name, this.messageValue()); return; }
    // A list of messages without a colon (`input [ {..}, {..} ]`) is accepted by protobuf too.
    if (this.isPunct('[')) { this.list(msg, name); return; }
    this.fail(`expected ':' or '{' after field '${name}' but found ${this.describe(this.tok)}`);
  }

  private list(msg: PbMessage, name: string): void {
    this.expectPunct('[');
    if (this.isPunct(']')) { this.take(); return; }
    for (;;) {
      msg.add(name, this.value());
      if (this.isPunct(',')) { this.take(); continue; }
      if (this.isPunct(']')) { this.take(); return; }
      this.fail(`expected ',' or ']' in list '${name}' but found ${this.describe(this.tok)}`);
    }
  }

  private messageValue(): PbMessage {
    const open = this.take().text;
    return this.message(open === '{' ? '}' : '>');
  }

  private value(): PbValue {
    const t = this.tok;
    if (this.isPunct('{') || this.isPunct('<')) return this.messageValue();
    if (t.kind === 'string') {
      let s = '';
      // Adjacent string literals concatenate, as in C.
      while (this.tok.kind === 'string') s += this.take().value!;
      return s;
    }
    if (t.kind === 'number') {
      this.take();
      return parseNumber(t.text, t);
    }
    if (t.kind === 'ident') {
      this.take();
      const lower = t.text.replace(/^-/, '').toLowerCase();
      if (lower === 'inf' || lower === 'infinity') return t.text.startsWith('-') ? -Infinity : Infinity;
      if (lower === 'nan') return NaN;
      if (t.text.startsWith('-')) this.fail(`unexpected '${t.text}'`, t);
      return new PbIdent(t.text);
    }
    return this.fail(`expected a value but found ${this.describe(t)}`, t);
  }
}

function parseNumber(text: string, t: Token): number {
  const neg = text.startsWith('-');
  const body = neg ? text.slice(1) : text;
  let v: number;
  if (/^0[xX]/.test(body)) v = parseInt(body.slice(2), 16);
  else v = Number(body.replace(/[fF]$/, ''));
  if (Number.isNaN(v)) throw new PbtxtError(t.line, t.column, `invalid number '${text}'`);
  return neg ? -v : v;
}

/** Parses protobuf text format into a schema-less message tree. Throws PbtxtError (line:column). */
export function parsePbtxt(text: string): PbMessage {
  return new Parser(new Lexer(text)).message();
}
