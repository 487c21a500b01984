/**
 * scripts/string-width-lazy.mjs: each string-width copy the full CLI bundles
 * makes its `Intl.Segmenter` (and 8.x its emoji expression) on first use,
 * not when its module is evaluated, and measures strings exactly as the
 * package itself does. Each copy is bundled with the plugin, as
 * scripts/bundle.mjs does, and run.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { build } from 'esbuild';
// @ts-expect-error -- a plain JavaScript module of the build (scripts/ is outside the TypeScript project)
import { stringWidthLazy } from '../../../scripts/string-width-lazy.mjs';

const root = join(import.meta.dirname, '..', '..', '..');
const copies = [
  'node_modules/string-width/index.js',
  'node_modules/cliui/node_modules/string-width/index.js',
  'node_modules/wrap-ansi/node_modules/string-width/index.js',
];
// ASCII, a wide CJK character, an emoji with a skin tone (one RGI sequence),
// a combining accent, a zero-width space, an emoji keycap.
const samples = ['abc', '古', '👍🏽', 'a\u0301', 'a\u200bb', '1\ufe0f\u20e3', ''];

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function bundled(entry: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'gitopsd-sw-'));
  dirs.push(dir);
  const out = join(dir, 'out.mjs');
  await build({
    stdin: { contents: `export { default } from ${JSON.stringify(entry)};`, resolveDir: root, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outfile: out,
    logLevel: 'silent',
    plugins: [stringWidthLazy],
  });
  return out;
}

/** Count the segmenters made while `fn` runs. */
async function countingSegmenters<T>(fn: (made: () => number) => Promise<T>): Promise<T> {
  const Real = Intl.Segmenter;
  // Intl's properties are writable (ECMA-402); TypeScript's lib types them read-only.
  const intl = Intl as { Segmenter: typeof Intl.Segmenter };
  let made = 0;
  intl.Segmenter = class extends Real {
    constructor(...args: ConstructorParameters<typeof Real>) {
      super(...args);
      made++;
    }
  };
  try {
    return await fn(() => made);
  } finally {
    intl.Segmenter = Real;
  }
}

describe('string-width-lazy', () => {
  for (const copy of copies) {
    const version = (JSON.parse(readFileSync(join(root, copy, '..', 'package.json'), 'utf8')) as { version: string })
      .version;
    it(`${copy} (${version}): no segmenter at load, one on first use, the same widths as the package`, async () => {
      const path = join(root, copy);
      const expected = await countingSegmenters(async () => {
        const original = (await import(pathToFileURL(path).href)) as { default: (s: string) => number };
        return samples.map((s) => original.default(s));
      });
      const out = await bundled(path);
      await countingSegmenters(async (made) => {
        const lazy = (await import(pathToFileURL(out).href)) as { default: (s: string) => number };
        // The unpatched module made one here.
        expect(made()).toBe(0);
        expect(samples.map((s) => lazy.default(s))).toEqual(expected);
        expect(made()).toBe(1);
        lazy.default('古古');
        expect(made()).toBe(1);
      });
      // A known layout: the widths are what string-width documents.
      expect(expected.slice(0, 3)).toEqual([3, 2, 2]);
    });
  }

  /** A string-width package of `version` whose index.js is `text`; returns index.js. */
  function fakeStringWidth(version: string, text: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'gitopsd-sw-fake-'));
    dirs.push(dir);
    const pkg = join(dir, 'node_modules', 'string-width');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'string-width', version, type: 'module' }));
    writeFileSync(join(pkg, 'index.js'), text);
    return join(pkg, 'index.js');
  }

  it('refuses a string-width version it does not know, naming it', async () => {
    const entry = fakeStringWidth('9.0.0', 'export default (s) => s.length;\n');
    await expect(bundled(entry)).rejects.toThrow(/string-width 9\.0\.0 .* is not known/);
  });

  it('refuses a known version whose text differs', async () => {
    const entry = fakeStringWidth(
      '7.2.0',
      'const segmenter = new Intl.Segmenter("en");\nexport default (s) => s.length;\n',
    );
    await expect(bundled(entry)).rejects.toThrow(/found 0 times/);
  });
});
