/**
 * The package builds from exactly its fileset (issue 12, defect 1).
 *
 * What `buildNpmPackage` does with nix/package.nix, reproduced here without
 * nixpkgs' builders (pkgs/build-support/node/build-npm-package/hooks/ and
 * import-npm-lock/hooks/npm-config-hook.sh):
 * 1. unpack: `src` is nix/package.nix's `lib.fileset.toSource`, evaluated with
 *    the real nixpkgs lib (GITOPSD_NIXPKGS, test/harness/nixpkgs.ts) and copied
 *    to the store by Nix; it is copied from there, writable, to a temp dir;
 * 2. configure: `npm ci` (the registry or npm's cache);
 * 3. build: `npm run build` (npmBuildScript = "build");
 * 4. install (npmInstallHook): the files `npm pack --json --dry-run` lists go
 *    to $out/lib/node_modules/gitopsd, then `npm prune --omit=dev --no-save`
 *    and node_modules is copied beside them; each "bin" gets a wrapper
 *    $out/bin/<name> that runs `node <packageOut>/<bin>` (makeWrapper);
 * 5. postInstall: package.nix's own script, run by bash in the build dir with
 *    installShellFiles' functions (test/shims/lib/install-shell-files.sh, which
 *    follows nixpkgs' setup-hook.sh), then fixup's compressManPages: the man
 *    page and the bash, zsh and fish completions land in $out/share;
 * 6. every "bin" of package.json runs `--help` from $out with node;
 * 7. the lean bundles of `status`, `sync`, `upgrade` and `fleet status`, and
 *    execa's own file, run from $out.
 * A file the build or a bin reads that the fileset omits fails step 3, 5 or 6.
 */
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run, tryRun } from '../../harness/exec.js';
import { nixpkgsDir } from '../../harness/nixpkgs.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { repoRoot } from '../../helpers/cli.js';

afterAll(removeTempDirs);

const NPM_TIMEOUT_MS = 480_000;

/** Every file under `dir`, relative, sorted. */
function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(dir, join(prefix, e.name)) : [join(prefix, e.name)]))
    .sort();
}

describe('nix/package.nix builds from its fileset', () => {
  it(
    'npm ci, npm run build and every bin --help succeed in a copy of exactly the fileset',
    async () => {
      // 1. The source tree Nix hands to the builder.
      const ev = await run('nix-instantiate', [
        '--eval',
        '--strict',
        '--read-write-mode',
        '--json',
        join(repoRoot, 'test/integration/nix/package-src.nix'),
        '--argstr',
        'nixpkgs',
        nixpkgsDir(),
      ]);
      const pkgAttrs = JSON.parse(ev.stdout) as {
        src: string;
        postInstall: string;
        nativeBuildInputs: string[];
        daemonNodeFlags: string[];
      };
      const storeSrc = pkgAttrs.src;
      expect(pkgAttrs.nativeBuildInputs).toContain('installShellFiles');
      expect(storeSrc).toMatch(/^\/nix\/store\/[a-z0-9]{32}-source$/);
      const files = listFiles(storeSrc);
      // The fileset never takes build output, dependencies or tests.
      expect(files.filter((f) => /^(node_modules|dist|test)\//.test(f))).toEqual([]);
      expect(files).toContain('package.json');

      const work = await tempDir('gitopsd-package');
      const build = join(work, 'build');
      // unpackPhase: cp -r, then make it writable (store files are read-only).
      await run('cp', ['-r', '--no-preserve=mode', storeSrc, build]);
      expect(listFiles(build)).toEqual(files);

      // 2 and 3. npm's cache ($HOME/.npm) serves what it has; the rest comes from the registry.
      const npmEnv = { npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };
      const ci = await run('npm', ['ci', '--prefer-offline'], { cwd: build, env: npmEnv, timeoutMs: NPM_TIMEOUT_MS });
      // esbuild's postinstall is approved in package.json "allowScripts" (npm >= 11.16):
      // a clean install warns about no install script (and npm 12 runs it).
      expect(ci.stderr).not.toMatch(/allow-scripts|install scripts? not/);
      await run('npm', ['run', 'build'], { cwd: build, env: npmEnv, timeoutMs: NPM_TIMEOUT_MS });

      // 4. npmInstallHook.
      const pkg = JSON.parse(readFileSync(join(build, 'package.json'), 'utf8')) as {
        name: string;
        bin: Record<string, string>;
      };
      const packageOut = join(work, 'out', 'lib', 'node_modules', pkg.name);
      const packed = await run('npm', ['pack', '--json', '--dry-run'], { cwd: build, env: npmEnv });
      // npm <= 11 prints an array of packages (what the nixpkgs hook reads as
      // `.[0].files`); npm 12 an object keyed by package name.
      type Packed = { files: Array<{ path: string }> };
      const packedJson = JSON.parse(packed.stdout) as Packed[] | Record<string, Packed>;
      const packedFiles = (Array.isArray(packedJson) ? packedJson[0] : packedJson[pkg.name])?.files ?? [];
      expect(packedFiles.length).toBeGreaterThan(0);
      for (const { path } of packedFiles) {
        mkdirSync(join(packageOut, dirname(path)), { recursive: true });
        await run('cp', [join(build, path), join(packageOut, path)]);
      }
      await run('npm', ['prune', '--omit=dev', '--no-save'], { cwd: build, env: npmEnv, timeoutMs: NPM_TIMEOUT_MS });
      await run('cp', ['-r', join(build, 'node_modules'), join(packageOut, 'node_modules')]);
      const out = join(work, 'out');
      const bins = Object.entries(pkg.bin);
      mkdirSync(join(out, 'bin'));
      for (const [name, rel] of bins) {
        const wrapper = join(out, 'bin', name);
        writeFileSync(wrapper, `#!/bin/sh\nexec node '${join(packageOut, rel)}' "$@"\n`);
        chmodSync(wrapper, 0o755);
      }

      // 5. postInstall as package.nix writes it, then fixup's compressManPages.
      const hook = join(repoRoot, 'test/shims/lib/install-shell-files.sh');
      const post = await tryRun(
        'bash',
        ['-eu', '-o', 'pipefail', '-c', `source '${hook}'; eval "$postInstall"; compressManPages "$out"`],
        { cwd: build, env: { out, postInstall: pkgAttrs.postInstall } },
      );
      expect({ exitCode: post.exitCode, stderr: post.stderr }).toEqual({ exitCode: 0, stderr: '' });
      expect(listFiles(join(out, 'share'))).toEqual([
        'bash-completion/completions/gitopsd.bash',
        'fish/vendor_completions.d/gitopsd.fish',
        'man/man1/gitopsd.1.gz',
        'zsh/site-functions/_gitopsd',
      ]);
      // The page is the one `npm run build` generated; each completion is what
      // the installed gitopsd prints for that shell, complete and non-empty.
      expect(gunzipSync(readFileSync(join(out, 'share/man/man1/gitopsd.1.gz'))).toString()).toBe(
        readFileSync(join(build, 'dist/man/gitopsd.1'), 'utf8'),
      );
      for (const [shell, file] of [
        ['bash', 'bash-completion/completions/gitopsd.bash'],
        ['zsh', 'zsh/site-functions/_gitopsd'],
        ['fish', 'fish/vendor_completions.d/gitopsd.fish'],
      ] as const) {
        const script = readFileSync(join(out, 'share', file), 'utf8');
        expect(script, shell).toContain('gitopsd --get-yargs-completions');
        const printed = (await run(join(out, 'bin', 'gitopsd'), ['completion', shell])).stdout;
        expect(script.trimEnd(), shell).toBe(printed.trimEnd());
      }

      // 6. Every bin, as its wrapper runs it.
      expect(bins.map(([name]) => name).sort()).toEqual([
        'chezmoi-show-conflicts',
        'chezmoi-status',
        'chezmoi-sync',
        'gitopsd',
        'pin-golden',
        'rollback-to-golden',
        'show-boot-status',
        'show-golden',
      ]);
      for (const [name, rel] of bins) {
        const r = await tryRun('node', [join(packageOut, rel), '--help'], { cwd: work });
        expect({ name, exitCode: r.exitCode, stderr: r.stderr }).toEqual({ name, exitCode: 0, stderr: '' });
        expect(r.stdout, name).toMatch(new RegExp(`^${name}\\b`, 'm'));
      }

      // 7. The lean bundles (src/cli/entry.ts) and execa's own file, loaded
      // from $out: `--help` above runs only the full CLI. A missing config
      // is read inside each lean bundle (exit 78); the fleet read of a
      // remote that does not exist spawns git through the runner (exit 75).
      const gitopsd = join(out, 'bin', 'gitopsd');
      const missing = join(work, 'no-such-config.json');
      for (const args of [['status'], ['sync'], ['upgrade'], ['fleet', 'status']]) {
        const r = await tryRun(gitopsd, [...args, '--config', missing], { cwd: work });
        expect({ args, exitCode: r.exitCode, lines: r.stderr.trim().split('\n').length }).toEqual({
          args,
          exitCode: 78,
          lines: 1,
        });
        expect(r.stderr, args.join(' ')).toContain(missing);
      }
      const cfg = join(work, 'lean-config.json');
      writeFileSync(cfg, JSON.stringify({ nixConfig: { path: join(work, 'nixos') }, stateDir: join(work, 'state') }));
      const read = await tryRun(gitopsd, ['fleet', 'status', '--config', cfg, '--remote', join(work, 'no-such.git')], {
        cwd: work,
      });
      expect({ exitCode: read.exitCode, lines: read.stderr.trim().split('\n').length }, read.stderr).toEqual({
        exitCode: 75,
        lines: 1,
      });

      // 8. gitopsd.service's command line in daemon mode (nix/module.nix
      // daemonExec): node with the package's passthru.daemonNodeFlags, on the script
      // under lib/node_modules. Its config error (exit 78) shows node took
      // the flags and the script ran to the daemon's own config read.
      const flags = (
        JSON.parse(readFileSync(join(packageOut, 'package.json'), 'utf8')) as {
          gitopsd: { daemonNodeFlags: string[] };
        }
      ).gitopsd.daemonNodeFlags;
      expect(flags.length).toBeGreaterThan(0);
      // The package's passthru, which the module reads, is the list of the package.json it installed.
      expect(pkgAttrs.daemonNodeFlags).toEqual(flags);
      const daemon = await tryRun(
        'node',
        [...flags, join(packageOut, 'bin', 'gitopsd'), 'daemon', '--config', missing],
        { cwd: work },
      );
      expect({ exitCode: daemon.exitCode, lines: daemon.stderr.trim().split('\n').length }, daemon.stderr).toEqual({
        exitCode: 78,
        lines: 1,
      });
      expect(daemon.stderr).toContain(missing);
    },
    NPM_TIMEOUT_MS * 3,
  );
});
