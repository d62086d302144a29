import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// Emits dist/sw.js from sw/sw.js with the list of files to precache and a version that changes
// whenever any of them does (asset names are content-hashed; public files are hashed here).
function serviceWorker() {
  return {
    name: 'bazaar-service-worker',
    apply: 'build',
    enforce: 'post',
    generateBundle(_options, bundle) {
      const built = Object.keys(bundle).filter((f) => !f.endsWith('.map') && f !== 'index.html');
      const publicFiles = readdirSync('public');
      const hash = createHash('sha256');
      for (const f of built.sort()) hash.update(f);
      for (const f of publicFiles.sort()) hash.update(f).update(readFileSync(`public/${f}`));
      const template = readFileSync('sw/sw.js', 'utf8');
      hash.update(template);
      const precache = ['/', ...built.map((f) => `/${f}`), ...publicFiles.map((f) => `/${f}`)];
      const source = template
        .replace('__VERSION__', hash.digest('hex').slice(0, 12))
        .replace('__PRECACHE__', JSON.stringify(precache));
      this.emitFile({ type: 'asset', fileName: 'sw.js', source });
    },
  };
}

export default defineConfig({
  plugins: [preact({ prerender: { enabled: false } }), serviceWorker()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    sourcemap: false,
    emptyOutDir: true,
  },
  server: {
    proxy: { '/v1': 'http://127.0.0.1:8000', '/health': 'http://127.0.0.1:8000' },
  },
});
