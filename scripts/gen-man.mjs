// Writes dist/man/gitopsd.1 (roff) from the commands yargs defines: the
// tree is read back from the built CLI's own --help (src/cli/usage.ts),
// written as markdown (src/cli/man.ts) and converted by marked-man. Run by
// `npm run build` after the bundle; the Nix package installs the result with
// installManPage. SOURCE_DATE_EPOCH (set by Nix) fixes the date in the page.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { marked } from 'marked';
import markedMan from 'marked-man';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { readCommandTree, buildInfo } = await import(join(root, 'dist', 'bundle', 'main.js'));
const { manPageMarkdown } = await import(join(root, 'dist', 'cli', 'man.js'));

// The page must not depend on who builds it: no $GITOPSD_CONFIG, no terminal width.
const tree = await readCommandTree('gitopsd', { PATH: process.env.PATH ?? '' });
const info = buildInfo();
const markdown = manPageMarkdown(tree, { scriptName: 'gitopsd', version: info.version });
marked.use(markedMan);
const roff = marked.parse(markdown, { manVersion: info.version, manual: 'gitopsd manual', section: '1' });
if (!roff.includes('.SH "COMMANDS"') && !roff.includes('.SH COMMANDS'))
  throw new Error('gen-man: the roff has no COMMANDS section');
const outdir = join(root, 'dist', 'man');
mkdirSync(outdir, { recursive: true });
const tmp = join(outdir, `gitopsd.1.tmp-${process.pid}`);
writeFileSync(tmp, roff);
renameSync(tmp, join(outdir, 'gitopsd.1'));
