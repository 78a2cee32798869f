// Builds the web application into dist/ (git-ignored), served by Signpost at /studio/ with its assets at
// /assets/. One bundler (esbuild), no CDN: every file the browser loads comes from dist/.
//
//   node build.mjs           build once (minified, with source maps)
//   node build.mjs --watch   rebuild on every change (development)
//
// bpmnlint's rules are compiled into the bundle here (the .bpmnlintrc import below), so that the browser
// lints with exactly the configured rules and never resolves a rule at run time.
import { createRequire } from 'node:module';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const require = createRequire(import.meta.url);
const root = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(root, 'dist');
const watch = process.argv.includes('--watch');

// `import lintConfig from '../.bpmnlintrc'` gives bpmnlint's { config, resolver } with every rule bundled.
const bpmnlintConfig = {
  name: 'bpmnlint-config',
  setup(build) {
    build.onLoad({ filter: /\.bpmnlintrc$/ }, async (args) => {
      const compileConfig = require('bpmnlint/lib/support/compile-config');
      const config = JSON.parse(await readFile(args.path, 'utf8'));
      return { contents: await compileConfig(config), loader: 'js', resolveDir: root };
    });
  },
};

// CodeMirror (the expression fields of form-js's properties panel) adds its styles to the document with a
// <style> element, which the studio's Content-Security-Policy refuses (no inline styles). It does the same
// with a constructed stylesheet (adoptedStyleSheets) inside a shadow root; a constructed stylesheet is no
// markup and no policy refuses it, so it is used for the document too.
const STYLE_MOD_TEST = 'if (!root.head && root.adoptedStyleSheets && win.CSSStyleSheet)';
const constructedStyleSheets = {
  name: 'constructed-style-sheets',
  setup(build) {
    build.onLoad({ filter: /[\\/]style-mod[\\/]src[\\/]style-mod\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes(STYLE_MOD_TEST)) {
        throw new Error(`${args.path} no longer reads as expected: check how it adds styles`);
      }
      return { contents: source.replace(STYLE_MOD_TEST, 'if (root.adoptedStyleSheets && win.CSSStyleSheet)'), loader: 'js' };
    });
  },
};

const options = {
  absWorkingDir: root,
  entryPoints: { studio: 'src/app/main.js', 'studio-styles': 'src/app/styles.css' },
  outdir: path.join(dist, 'assets'),
  bundle: true,
  splitting: true, // pages load on demand: the library does not wait for the modeler's code
  format: 'esm',
  target: ['es2022'],
  minify: !watch,
  sourcemap: true,
  legalComments: 'linked',
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  assetNames: 'files/[name]-[hash]',
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.svg': 'file', '.png': 'file' },
  define: { 'process.env.NODE_ENV': watch ? '"development"' : '"production"' },
  logLevel: 'warning',
  metafile: true,
  plugins: [bpmnlintConfig, constructedStyleSheets],
};

async function copyPages() {
  await cp(path.join(root, 'src', 'index.html'), path.join(dist, 'index.html'));
}

const started = Date.now();
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await copyPages();
if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
  console.log('watching web/src for changes (dist/ is rebuilt on each)');
} else {
  const result = await esbuild.build(options);
  const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
  // What was built from which sources: `make` rebuilds only when a source is newer than this stamp.
  await writeFile(path.join(dist, 'build.json'), JSON.stringify({ built_at: new Date().toISOString() }));
  console.log(
    `web: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
      `(${(bytes / 2 ** 20).toFixed(1)} MiB with source maps)`,
  );
}
