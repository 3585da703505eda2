import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The build goes where console/ui embeds it. Only the build's own files are
// removed first: dist/.gitignore is tracked so a plain `go build` finds
// the folder.
const outDir = fileURLToPath(new URL('../console/ui/dist', import.meta.url));

export default defineConfig({
  base: '/',
  build: {
    outDir,
    emptyOutDir: false,
    assetsDir: 'assets',
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      output: { manualChunks: { echarts: ['echarts/core', 'echarts/charts', 'echarts/components', 'echarts/renderers'] } },
    },
  },
  plugins: [{
    name: 'clean-own-output',
    apply: 'build',
    buildStart() {
      rmSync(`${outDir}/assets`, { recursive: true, force: true });
      rmSync(`${outDir}/index.html`, { force: true });
    },
  }],
  server: {
    // npm run dev: the API of a running `sunlight serve` (make demo).
    proxy: { '/api': process.env.SUNLIGHT_URL || 'http://127.0.0.1:8080' },
  },
});
