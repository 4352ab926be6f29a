// A small JSON parser for config files. JSON.parse cannot be used as is: it keeps the
// last of two duplicate keys without a word (two pools of the same name would silently
// become one), and its messages differ between Node versions and may quote the whole
// input, newlines included. This one reports line and column, and duplicates by path.

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

/** Line and column (both from 1) of an offset into text. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

const MAX_DEPTH = 64;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class Parser {
  private i = 0;

  constructor(private readonly text: string) {}

  parseDocument(): unknown {
    if (this.text.charCodeAt(0) === 0xfeff) this.i = 1;
    const value = this.value([], 0);
    this.space();
    if (this.i < this.text.length) this.fail('expected the end of the document');
    return value;
  }

  private fail(message: string, at = this.i): never {
    const { line, column } = lineColumn(this.text, at);
    const rest = this.text.slice(at, at + 12).split(/[\r\n]/)[0] ?? '';
    const near = at >= this.text.length ? ', found the end of the file' : rest === '' ? ', found the end of the line' : `, found ${JSON.stringify(rest)}`;
    throw new JsonSyntaxError(message + near, line, column);
  }

  private space(): void {
    for (;;) {
      const c = this.text[this.i];
      if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') return;
      this.i++;
    }
  }

  private value(path: readonly string[], depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail(`nested more than ${MAX_DEPTH} levels deep`);
    this.space();
    const c = this.text[this.i];
    if (c === '{') return this.object(path, depth);
    if (c === '[') return this.array(path, depth);
    if (c === '"') return this.string();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.text.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.text);
    if (m) {
      this.i += m[0].length;
      return Number(m[0]);
    }
    return this.fail('expected a value (object, array, string, number, true, false or null)');
  }

  private string(): string {
    const start = this.i;
    this.i++;
    for (;;) {
      const c = this.text.charCodeAt(this.i);
      if (Number.isNaN(c)) this.fail('unterminated string', start);
      if (c < 0x20) this.fail('control character in a string (write it as an escape, e.g. \\n)');
      if (c === 0x22) break;
      if (c === 0x5c) {
        const e = this.text[this.i + 1] ?? '';
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.i + 2, this.i + 6))) this.fail('invalid \\u escape');
          this.i += 6;
          continue;
        }
        if (!'"\\/bfnrt'.includes(e) || e === '') this.fail('invalid escape in a string');
        this.i += 2;
        continue;
      }
      this.i++;
    }
    this.i++;
    return JSON.parse(this.text.slice(start, this.i)) as string;
  }

  private object(path: readonly string[], depth: number): Record<string, unknown> {
    // No prototype: a key "__proto__" is a plain key, never the object's prototype.
    const out = Object.create(null) as Record<string, unknown>;
    this.i++;
    this.space();
    if (this.text[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.space();
      if (this.text[this.i] !== '"') this.fail('expected a double-quoted key');
      const keyAt = this.i;
      const key = this.string();
      if (Object.hasOwn(out, key)) {
        const where = path.length === 0 ? 'at the top level' : `in ${path.join('.')}`;
        this.fail(`duplicate key ${JSON.stringify(key)} ${where}`, keyAt);
      }
      this.space();
      if (this.text[this.i] !== ':') this.fail('expected ":" after a key');
      this.i++;
      out[key] = this.value([...path, key], depth + 1);
      this.space();
      const c = this.text[this.i];
      this.i++;
      if (c === '}') return out;
      if (c !== ',') this.fail('expected "," or "}" after a value', this.i - 1);
    }
  }

  private array(path: readonly string[], depth: number): unknown[] {
    const out: unknown[] = [];
    this.i++;
    this.space();
    if (this.text[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value([...path, String(out.length)], depth + 1));
      this.space();
      const c = this.text[this.i];
      this.i++;
      if (c === ']') return out;
      if (c !== ',') this.fail('expected "," or "]" after an element', this.i - 1);
    }
  }
}

/** Parses JSON text; throws JsonSyntaxError with line and column. Objects have no prototype. */
export function parseJson(text: string): unknown {
  return new Parser(text).parseDocument();
}
