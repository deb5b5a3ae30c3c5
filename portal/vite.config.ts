import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The portal builds to portal/dist: index.html, hashed files under assets/ and nothing fetched from elsewhere at
 * run time. `config.json` is not part of the build: the local runtime and the CloudFront deployment each serve
 * their own next to index.html.
 */
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
});
