// The web console: built by `npm run build` into console/dist, served by `keywarden serve` at `/`.
// Hashed file names under /assets/ let the server cache them for good; nothing is inlined into
// index.html, so the Content-Security-Policy needs no 'unsafe-inline'.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    target: 'es2022',
    chunkSizeWarningLimit: 600,
  },
  // `npx vite console` during development: the API runs on `npm start`.
  server: {
    proxy: { '/v1': 'http://127.0.0.1:8080', '/console/api': 'http://127.0.0.1:8080' },
  },
});
