// A stand-in for the `string-width` package inside the bundled CLI: the package builds
// an Intl.Segmenter and a `\p{RGI_Emoji}` regex when it is loaded (~27 ms of every
// start, measured), though only --help output needs widths. Same contract, built lazily.

let segmenter: Intl.Segmenter | undefined;
let pictographic: RegExp | undefined;
// CSI and OSC escape sequences, as strip-ansi matches them.
// eslint-disable-next-line no-control-regex -- matching escape sequences is the point
const ANSI = /[\u001B\u009B][[\]()#;?]*(?:(?:(?:;[-a-zA-Z\d/#&.:=?%@~_]+)*|[a-zA-Z\d]+(?:;[-a-zA-Z\d/#&.:=?%@~_]*)*)?\u0007|(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PR-TZcf-nq-uy=><~])/g;

function wide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

export default function stringWidth(text: string, options: { countAnsiEscapeCodes?: boolean } = {}): number {
  if (typeof text !== 'string' || text.length === 0) return 0;
  const s = options.countAnsiEscapeCodes === true ? text : text.replace(ANSI, '');
  // plain printable ASCII: the common case
  if (/^[\x20-\x7e]*$/.test(s)) return s.length;
  segmenter ??= new Intl.Segmenter();
  pictographic ??= /\p{Extended_Pictographic}/u;
  let width = 0;
  for (const { segment } of segmenter.segment(s)) {
    const cp = segment.codePointAt(0) ?? 0;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x300 && cp <= 0x36f) || cp === 0x200b) continue;
    width += pictographic.test(segment) || wide(cp) ? 2 : 1;
  }
  return width;
}
