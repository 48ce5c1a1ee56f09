// Builds dist/ (embedded by web.go): the page, one script, one stylesheet
// and the Natural Earth 1:50m countries (world-atlas TopoJSON). Run by
// `make web` after `npm ci`; the output is committed so that building cdp
// needs no Node.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
mkdirSync('dist');
await build({
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15'],
  outdir: 'dist',
  legalComments: 'eof',
  logLevel: 'warning',
});
copyFileSync('src/index.html', 'dist/index.html');
copyFileSync('src/favicon.svg', 'dist/favicon.svg');
copyFileSync('node_modules/world-atlas/countries-50m.json', 'dist/world-50m.json');
