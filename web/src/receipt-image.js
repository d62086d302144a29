// The receipt as a PNG for the Web Share API: drawn on a canvas as wide as an 80 mm thermal roll
// prints (576 dots), in the shop's language, Urdu right to left. Loaded with a dynamic import when
// Share is tapped, so it costs the first load nothing. The fonts are the page's own stacks
// (style.css): nothing is downloaded for it.

export const WIDTH = 576; // dots across an 80 mm roll at 203 dpi
const PAD = 24;

const LATIN = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif';
const URDU = '"Noto Nastaliq Urdu", "Noto Naskh Arabic", "Jameel Noori Nastaleeq", "Urdu Typesetting", system-ui, sans-serif';

/** The canvas font of a size and weight in a language's stack. */
export function fontOf(lang, size, bold = false) {
  return `${bold ? '700' : '400'} ${size}px ${lang === 'ur' ? URDU : LATIN}`;
}

/** `text` cut into lines no wider than `max` (by words; a word wider than `max` alone on its line). */
export function wrap(text, max, measure) {
  const lines = [];
  let line = '';
  for (const word of String(text).split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (line && measure(next) > max) { lines.push(line); line = word; } else line = next;
  }
  return line ? [...lines, line] : [''];
}

/**
 * What to draw, top to bottom: {ops, width, height}. An op is a text ({text, x, y, align, font,
 * dir}; y its baseline) or a rule ({rule: true, y}). r: the receipt as data (receipt.js); t:
 * translate; measure(text, font) -> px. Words run from the start side (the right in Urdu); amounts
 * are numbers, always left to right, at the end side.
 */
export function layout(r, t, lang, measure, width = WIDTH) {
  const rtl = lang === 'ur';
  const leading = rtl ? 1.9 : 1.35; // Nastaliq stands taller than Latin
  const start = rtl ? { x: width - PAD, align: 'right' } : { x: PAD, align: 'left' };
  const end = rtl ? { x: PAD, align: 'left' } : { x: width - PAD, align: 'right' };
  const mid = { x: width / 2, align: 'center' };
  const dir = rtl ? 'rtl' : 'ltr';
  const ops = [];
  let y = PAD;
  const row = (size, cells) => {
    y += Math.round(size * leading);
    for (const c of cells) ops.push({ text: c.text, x: c.at.x, y, align: c.at.align, font: c.font, dir: c.dir ?? dir });
  };
  const rule = () => { y += 14; ops.push({ rule: true, y }); y += 4; };
  const words = (size, bold) => fontOf(lang, size, bold);
  const digits = (size, bold) => fontOf('en', size, bold);

  for (const text of wrap(r.store, width - 2 * PAD, (s) => measure(s, words(34, true)))) row(34, [{ text, at: mid, font: words(34, true) }]);
  row(22, [{ text: r.when, at: mid, font: words(22) }]);
  row(22, [{ text: t('bill_no', { no: r.no }), at: mid, font: words(22) }]);
  rule();
  for (const l of r.lines) {
    for (const text of wrap(l.name, width - 2 * PAD, (s) => measure(s, words(26)))) row(26, [{ text, at: start, font: words(26) }]);
    row(24, [
      { text: `${l.qty} × ${l.price}`, at: start, font: digits(22), dir: 'ltr' },
      { text: l.amount, at: end, font: digits(24, true), dir: 'ltr' },
    ]);
  }
  rule();
  const sum = (label, amount, size, bold) => row(size, [
    { text: label, at: start, font: words(size, bold) },
    { text: amount, at: end, font: digits(size, bold), dir: 'ltr' },
  ]);
  sum(t('bill_total'), r.total, 32, true);
  if (r.cash) {
    sum(t('cash'), r.cash, 26, false);
    sum(t('change_due'), r.change, 26, true);
  }
  rule();
  row(28, [{ text: t('thanks'), at: mid, font: words(28, true) }]);
  return { ops, width, height: Math.ceil(y + PAD * 1.5) };
}

/** The receipt drawn black on white: a PNG Blob. */
export async function receiptPng(r, t, lang) {
  const scratch = document.createElement('canvas').getContext('2d');
  const measure = (text, font) => { scratch.font = font; return scratch.measureText(text).width; };
  const { ops, width, height } = layout(r, t, lang, measure);
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = '#000';
  for (const op of ops) {
    if (op.rule) { ctx.fillRect(PAD, op.y, width - 2 * PAD, 2); continue; }
    ctx.font = op.font;
    ctx.direction = op.dir;
    ctx.textAlign = op.align;
    ctx.fillText(op.text, op.x, op.y);
  }
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('no image'))), 'image/png'));
}
