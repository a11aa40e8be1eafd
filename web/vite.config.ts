/**
 * Vite config of the visualizer: `npm run web` (dev server), `npm run build:web`
 * (static site in web/dist). The page imports memkit's TypeScript source
 * (`../src/index.ts`), so it runs the same code as the package.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root,
  base: './',
  // Bundled traces (traces/*.rep.gz) are imported with `?url`: served from
  // the repo in dev, copied as assets by the build.
  server: { fs: { allow: [repo] }, host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', assetsInlineLimit: 0, chunkSizeWarningLimit: 2000 },
  // The browser's dependencies, pre-bundled at start. No discovery at run
  // time: a dependency found late (the `thing` peer is a dynamic import)
  // would make the dev server reload the page in the middle of a session.
  optimizeDeps: { include: ['uplot', '@thi.ng/malloc'], noDiscovery: true },
  clearScreen: false,
  logLevel: 'info',
});
