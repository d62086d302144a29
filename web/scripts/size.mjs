#!/usr/bin/env node
// First-load size budget: the gzip size of the JS and CSS that dist/index.html loads (entry
// script, module preloads, stylesheets) must stay under the budget. Exit 1 above it, 2 when the
// build is missing. Usage: node scripts/size.mjs [--budget BYTES] [--json]
import { readFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUDGET = 150_000; // bytes, compressed (150 KB)
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const args = process.argv.slice(2);
const budget = args.includes('--budget') ? Number(args[args.indexOf('--budget') + 1]) : BUDGET;

const indexPath = join(dist, 'index.html');
if (!existsSync(indexPath)) {
  console.error('size: dist/index.html is missing: run npm run build first');
  process.exit(2);
}
const html = readFileSync(indexPath, 'utf8');
const refs = new Set();
for (const m of html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)) refs.add(m[1]);
for (const m of html.matchAll(/<link[^>]*\brel="(?:stylesheet|modulepreload)"[^>]*\bhref="([^"]+)"/g)) refs.add(m[1]);
for (const m of html.matchAll(/<link[^>]*\bhref="([^"]+)"[^>]*\brel="(?:stylesheet|modulepreload)"/g)) refs.add(m[1]);

const files = [...refs].filter((r) => /\.(m?js|css)$/.test(r) && !/^https?:/.test(r)).map((ref) => {
  const raw = readFileSync(join(dist, ref.replace(/^\//, '')));
  return { file: ref, raw: raw.length, gzip: gzipSync(raw, { level: 9 }).length };
});
if (!files.some((f) => f.file.endsWith('.js'))) {
  console.error('size: no entry script found in dist/index.html');
  process.exit(2);
}
const total = files.reduce((s, f) => s + f.gzip, 0);
const ok = total <= budget;
if (args.includes('--json')) {
  console.log(JSON.stringify({ files, total_gzip: total, budget, ok }));
} else {
  for (const f of files) console.log(`${f.file}  ${f.raw} B raw, ${f.gzip} B gzip`);
  console.log(`first load: ${(total / 1000).toFixed(1)} kB gzip of ${(budget / 1000).toFixed(0)} kB budget: ${ok ? 'ok' : 'OVER BUDGET'}`);
}
process.exit(ok ? 0 : 1);
