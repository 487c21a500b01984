// An esbuild plugin of scripts/bundle.mjs, in a module of its own so that
// test/unit/build/string-width-lazy.test.ts can bundle with it.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * string-width (three copies: yargs' 8.x, cliui's and wrap-ansi's 7.x) builds
 * an `Intl.Segmenter` at the top of its module, and 8.x also the regular
 * expression `/^\p{RGI_Emoji}$/v`, whose set of emoji sequences V8 builds
 * when the expression is made. yargs imports it through cliui and its
 * platform shim, so every start of the full CLI (`sync`, the daemon's runs,
 * every command without a lean bundle) paid for both, though only help and
 * usage text measure strings: in a profile of `gitopsd sync`, 8.4 ms for the
 * expression and 5.8 ms for the first segmenter, which loads ICU's break
 * iterator data (docs/benchmarks.md, "Eighteenth session"). Both are made
 * on first use instead: the module uses the segmenter only through
 * `segmenter.segment(s)` and the expression only through `.test(s)`, which
 * the stand-ins forward. The build fails on a version whose text differs
 * (a new string-width is looked at, never bundled half-patched).
 */
export const stringWidthLazy = {
  name: 'string-width-lazy',
  setup(b) {
    const segmenter = [
      'const segmenter = new Intl.Segmenter();',
      'let segmenterMade;\nconst segmenter = { segment: (s) => (segmenterMade ??= new Intl.Segmenter()).segment(s) };',
    ];
    const emoji = [
      'const rgiEmojiRegex = /^\\p{RGI_Emoji}$/v;',
      'let rgiEmojiRegexMade;\nconst rgiEmojiRegex = { test: (s) => (rgiEmojiRegexMade ??= /^\\p{RGI_Emoji}$/v).test(s) };',
    ];
    // 4.x (cli-table3's) makes nothing at its top: nothing to change.
    const edits = { '4.2.3': [], '7.2.0': [segmenter], '8.3.0': [segmenter, emoji] };
    b.onLoad({ filter: /[\\/]node_modules[\\/](.+[\\/])?string-width[\\/]index\.js$/ }, (args) => {
      const { version } = JSON.parse(readFileSync(join(dirname(args.path), 'package.json'), 'utf8'));
      const list = edits[version];
      if (list === undefined) throw new Error(`string-width-lazy: string-width ${version} (${args.path}) is not known`);
      let text = readFileSync(args.path, 'utf8');
      for (const [from, to] of list) {
        const n = text.split(from).length - 1;
        if (n !== 1) throw new Error(`string-width-lazy: ${JSON.stringify(from)} found ${n} times in ${args.path}`);
        text = text.replace(from, to);
      }
      // Each stand-in must be the only use of its name but the ones it forwards.
      if (/segmenter\.(?!segment\()/.test(text) || /rgiEmojiRegex\.(?!test\()/.test(text)) {
        throw new Error(`string-width-lazy: ${args.path} uses the segmenter or the expression otherwise`);
      }
      return { contents: text, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};
