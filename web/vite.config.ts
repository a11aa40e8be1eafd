/**
 * Vite config of the visualizer: `npm run web` (dev server), `npm run build:web`
 * (static site in web/dist). The page imports memkit's TypeScript source
 * (`../src/index.ts`), so it runs the same code as the package.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('..', import.meta.url));

/** The headers that make the page cross-origin isolated (`crossOriginIsolated === true`). */
const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  root,
  base: './',
  // Bundled traces (traces/*.rep.gz) are imported with `?url`: served from
  // the repo in dev, copied as assets by the build.
  // Cross-origin isolation (COOP + COEP), so that SharedArrayBuffer exists
  // in the page (for heaps shared with Web Workers).
  server: { fs: { allow: [repo] }, host: '127.0.0.1', headers: ISOLATION },
  preview: { host: '127.0.0.1', headers: ISOLATION },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', assetsInlineLimit: 0, chunkSizeWarningLimit: 2000 },
  // The browser's dependencies, pre-bundled at start. No discovery at run
  // time: a dependency found late (the `thing` peer is a dynamic import)
  // would make the dev server reload the page in the middle of a session.
  // The workers view's Web Workers are module workers (`new Worker(new URL(...), { type: 'module' })`).
  worker: { format: 'es' },
  optimizeDeps: { include: ['uplot', '@thi.ng/malloc'], noDiscovery: true },
  clearScreen: false,
  logLevel: 'info',
});
