/**
 * JSON.parse without losing precision: a number that a JS number cannot hold
 * exactly (an integer beyond ±2^53, or more than 15 significant digits, as
 * bigint and numeric columns produce) is returned as its decimal string.
 * Every other number is a number. jsonb keeps numbers exactly, so reading
 * `event::text` with this parser loses nothing.
 */
export function parseLosslessJson(text: string): unknown {
  return JSON.parse(quoteUnsafeNumbers(text));
}

const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Wraps unsafe numbers (outside strings) in quotes; leaves the rest as is. */
function quoteUnsafeNumbers(text: string): string {
  let out = '';
  let copiedTo = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c /* \ */ ? 2 : 1;
      i++;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const match = NUMBER.exec(text);
      const token = match?.[0] ?? text[i]!;
      if (match && !isSafeNumber(token)) {
        out += `${text.slice(copiedTo, i)}"${token}"`;
        copiedTo = i + token.length;
      }
      i += token.length;
    } else {
      i++;
    }
  }
  return copiedTo === 0 ? text : out + text.slice(copiedTo);
}

function isSafeNumber(token: string): boolean {
  if (/^-?\d+$/.test(token)) return Number.isSafeInteger(Number(token));
  const digits = token.replace(/[eE].*$/, '').replace(/[-.]/g, '').replace(/^0+/, '').replace(/0+$/, '');
  return digits.length <= 15 && Number.isFinite(Number(token));
}
