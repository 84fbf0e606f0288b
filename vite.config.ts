import { defineConfig } from 'vite';

/** Cross-origin isolation: SharedArrayBuffer needs both headers on every page we serve. */
export const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export default defineConfig({
  server: { host: '127.0.0.1', port: 5173, strictPort: false, headers: isolationHeaders },
  preview: { host: '127.0.0.1', port: 4173, headers: isolationHeaders },
  worker: { format: 'es' },
  build: { target: 'es2022' },
  optimizeDeps: { exclude: ['@spice-project/spice-html5'] },
});
