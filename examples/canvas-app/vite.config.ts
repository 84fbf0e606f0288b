import { defineConfig } from 'vite';

/**
 * spice-web-server shares memory between the page and its workers
 * (SharedArrayBuffer), which browsers allow only on cross-origin isolated
 * pages: every response of the app needs these two headers.
 */
const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  server: { headers: isolationHeaders },
  preview: { headers: isolationHeaders },
  // The package starts its workers as ES modules.
  worker: { format: 'es' },
  build: { target: 'es2022' },
  // The package imports nothing by name, so pre-bundling it gains nothing;
  // and before Vite 8, pre-bundling moved its code into node_modules/.vite/deps/
  // without rewriting its `new URL('./assets/…', import.meta.url)` references
  // to the worker and WASM files. Served as it is, it works with any Vite.
  optimizeDeps: { exclude: ['spice-web-server'] },
});
