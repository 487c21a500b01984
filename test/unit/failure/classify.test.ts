/**
 * The failure taxonomy as a table (issue #13). Each row is the output of the
 * real tool: nix 2.34.8, git 2.55 and systemctl from the test bed (sid root),
 * produced with a full tmpfs store, a moved-away git+file input, a builder
 * killed by SIGKILL, nix --timeout, --store daemon without a daemon, ... (see
 * docs/upgrade.md "What gets blamed"); a few are nix's own format strings at
 * 2.34.0 (libstore/filetransfer.cc, goal.cc, derivation-building-goal.cc) or
 * nixpkgs' lib/modules.nix, filled in as nix prints them.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  classifyFailure,
  drvsFailedByBuilder,
  exitCodeForFailure,
  failedDrvsNamed,
  fullBuildLogFrom,
  FULL_LOG_TAIL_BYTES,
  FULL_LOG_JUDGED_LINES,
  planFullLogReads,
  isFixedOutputDrv,
  keyLine,
  meaningfulError,
  retryDelayMs,
  splitBuilderLog,
  storeObjectsNamedMissing,
  type FailureCause,
  type FailureClass,
  type FailureEvidence,
  type FullBuildLog,
} from '../../../src/failure/classify.js';

/** nh 4.4's report after nix exits 1 (color-eyre chain), as nh prints it below nix's stderr. */
const NH_TAIL = `Error: \n   0: Failed to build configuration\n   1: Command exited with status Exited(1)\n`;
const nh = (nixStderr: string): string => `> Building NixOS configuration\n${nixStderr}${NH_TAIL}`;

const BUILDER_EXIT = `this derivation will be built:
  /nix/store/cn7pkbhf00gbkqdqjkm8qf8lxv1x2zyb-fails.drv
building '/nix/store/cn7pkbhf00gbkqdqjkm8qf8lxv1x2zyb-fails.drv'...
error: Cannot build '/nix/store/cn7pkbhf00gbkqdqjkm8qf8lxv1x2zyb-fails.drv'.
       Reason: builder failed with exit code 2.
       Output paths:
         /nix/store/0nf72d6v3g96yc7090b2vwicsvz0zhvp-fails
       Last 1 log lines:
       > oops
       For full logs, run:
         nix log /nix/store/cn7pkbhf00gbkqdqjkm8qf8lxv1x2zyb-fails.drv
`;
const OLD_BUILDER = `building '/nix/store/dgy59sxqj2wq2418f82n14z9cljzjin4-man-cache.drv'...
error: builder for '/nix/store/dgy59sxqj2wq2418f82n14z9cljzjin4-man-cache.drv' failed with exit code 2
error: 1 dependencies of derivation '/nix/store/p6lx3x6fxbl7hhch5nnsrxxlcsnw524d-etc-man_db.conf.drv' failed to build
error: 1 dependencies of derivation '/nix/store/m341zgn4qz0na8pvf3vkv44im3m9i8q0-etc.drv' failed to build
`;
const THROW = `error:
       … while calling the 'throw' builtin
         at /work/wt/13/.scratch/flake.nix:5:15:
            4|     fails = derivation { name = "fails"; };
            5|     evalerr = builtins.throw "hosta: option foo does not exist";
             |               ^
            6|     sleepy = derivation { name = "sleepy"; };

       error: hosta: option foo does not exist
`;
const SYNTAX = `error: syntax error, unexpected '}', expecting ';'
       at /work/wt/13/.scratch/syn/flake.nix:4:3:
            3|     x = 1
            4|   };
             |   ^
            5| }
`;
const UNDEFINED = `error: undefined variable 'foo'
       at /work/wt/13/.scratch/ev/flake.nix:3:64:
            2|   outputs = { self }: let system = "x86_64-linux"; in {
            3|     undef = derivation { name = "u"; inherit system; builder = foo; };
             |                                                                ^
`;
const NO_ATTR = `error: flake 'git+file:///work/wt/13/.scratch' does not provide attribute 'packages.x86_64-linux.nixosConfigurations.nope.config.system.build.toplevel', 'legacyPackages.x86_64-linux.nixosConfigurations.nope.config.system.build.toplevel' or 'nixosConfigurations.nope.config.system.build.toplevel'
`;
const NO_OPTION = `error:
       … while evaluating the attribute 'config.system.build.toplevel'

       (stack trace truncated; use '--show-trace' to show the full, detailed trace)

       error: The option \`services.sshd.enabl' does not exist. Definition values:
       - In \`/nix/store/x-source/hosts/hosta.nix': true
`;
const FOD = `building '/nix/store/3vfrmhv0kq0mhfmfm2wkpi8ggrhcr517-fod.drv'...
error: hash mismatch in fixed-output derivation '/nix/store/3vfrmhv0kq0mhfmfm2wkpi8ggrhcr517-fod.drv':
         specified: sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
            got:    sha256-mOpuTyFvL7S2n/+bOkSELDhobKaF8/VdxIxdP7EQe+Q=
`;
const KILLED = `building '/nix/store/s8i39fnksn372h4iy0b1wnfrhvxbcy6f-killed.drv'...
error: Cannot build '/nix/store/s8i39fnksn372h4iy0b1wnfrhvxbcy6f-killed.drv'.
       Reason: builder failed due to signal 9 (Killed).
       Output paths:
         /nix/store/94pdp90scqmbsyqsk24y7fdb0am1y3dw-killed
       Last 1 log lines:
       > eating memory
`;
const BUILDER_NOSPC = `building '/nix/store/czic2mvjcpk104rd8a3kn4rrcg1vpjia-nospc.drv'...
error: Cannot build '/nix/store/czic2mvjcpk104rd8a3kn4rrcg1vpjia-nospc.drv'.
       Reason: builder failed with exit code 1.
       Output paths:
         /nix/store/jxwk2mwymr2x82r3ad403bmpn68hw147-nospc
       Last 1 log lines:
       > cp: error writing '/build/x': No space left on device
`;
const SQLITE_FULL = `error: setting journal mode: database or disk is full, database or disk is full (in '/work/wt/13/.scratch/small/st/nix/var/nix/db/db.sqlite')
`;
// Not a full disk, though first recorded as one: with a chroot store
// (--store DIR) and no sandbox, the builder writes $out into the real
// /nix/store, and nix then finds nothing at DIR/nix/store/… (measured in the
// classify session: 40 MB landed in the test bed's own /nix/store). A full
// store, for real, is STORE_FULL in test/fixtures/nix-failures. The text is
// what a builder that exits 0 without writing $out gets (nooutput there).
const NO_OUTPUT = `building '/nix/store/a310yjhy93mh0najdwjzlnrxa0cdazyx-bigger.drv'...
error: builder for '/nix/store/a310yjhy93mh0najdwjzlnrxa0cdazyx-bigger.drv' failed to produce output path for output 'out' at "/work/wt/13/.scratch/small2/st/nix/store/dqhdcy5wigps37p9gmh5s3fdnfn523fx-bigger"
`;
const INPUT_AWAY = `error:
       … while calling the 'derivationStrict' builtin
         at «nix-internal»/derivation-internal.nix:37:12:
           36|
           37|   strict = derivationStrict drvAttrs;
             |            ^
           38|

       … while evaluating the derivation attribute 'name'
         at /work/wt/13/.scratch/withinput/flake.nix:3:52:

       (stack trace truncated; use '--show-trace' to show the full, detailed trace)

       error: Git repository "/work/wt/13/.scratch/inp" does not exist.
`;
const SUBST_WARN_THEN_BUILDER = `warning: unable to download 'http://nonexistent.invalid/nix-cache-info': Could not resolve hostname (6) Could not resolve host: nonexistent.invalid; retrying in 334 ms (attempt 1/5)
warning: unable to download 'http://nonexistent.invalid/nix-cache-info': Could not resolve hostname (6) Could not resolve host: nonexistent.invalid
${BUILDER_EXIT}`;
const DOWNLOAD = `error:
       … while calling the 'fetchurl' builtin
         at /work/wt/13/.scratch/ev/flake.nix:5:10:
            5|     dl = builtins.fetchurl "http://127.0.0.1:9/x.tar.gz";
             |          ^

       error: unable to download 'http://127.0.0.1:9/x.tar.gz': Could not connect to server (7) Failed to connect to 127.0.0.1:9 after 0 ms: Could not connect to server
`;
const HTTP_503 = `error: unable to download 'https://github.com/NixOS/nixpkgs/archive/0123456789abcdef.tar.gz': HTTP error 503 ()

       response body:

       upstream connect error or disconnect/reset before headers
`;
// A substituter that answers but does not deliver the path (nix 2.34.8 in
// the test bed, download-attempts 1, no --fallback): the cache serves a NAR
// of another path, or a body that is no NAR at all (a captive portal's page).
const SUBST_TAIL = `error: path '/nix/store/f9jv77kpkylj2hpkflb2nvnpb0qvmp1y-a-3246119277' is required, but there is no substituter that can build it
error: some substitutes for the outputs of derivation '/nix/store/5cqjza4jm4gar2fkchz7yxwp4l4qwr17-a-3246119277.drv' failed (usually happens due to networking issues); try '--fallback' to build derivation from source
error: Cannot build '/nix/store/wkvq70p1fw129pbd991ahrcip7id0907-top-3246119277.drv'.
       Reason: 1 dependency failed.
       Output paths:
         /nix/store/1i06vykda8j6n8dv8mvcv17nhlcy8f32-top-3246119277
`;
const SUBST_HEAD = `this derivation will be built:
  /nix/store/wkvq70p1fw129pbd991ahrcip7id0907-top-3246119277.drv
this path will be fetched (0.1 KiB download, 0.1 KiB unpacked):
  /nix/store/f9jv77kpkylj2hpkflb2nvnpb0qvmp1y-a-3246119277
copying path '/nix/store/f9jv77kpkylj2hpkflb2nvnpb0qvmp1y-a-3246119277' from 'http://127.0.0.1:18781'...
`;
const SUBST_CORRUPT = `${SUBST_HEAD}error: hash mismatch importing path '/nix/store/f9jv77kpkylj2hpkflb2nvnpb0qvmp1y-a-3246119277';
         specified: sha256:11hap619k9yv29jfxdq44d7fxwks93qsw8w8iwbgdjwxni9zsxlj
         got:       sha256:0za0q0rxcygrd773vsz7pd4rk0f0nk1pdfbkig4bz4bm15xz2i10
${SUBST_TAIL}`;
const SUBST_NOT_NAR = `${SUBST_HEAD}error: input compression not recognized
${SUBST_TAIL}`;
const SUBST_CUT = `${SUBST_HEAD}error: unable to download 'http://127.0.0.1:18782/nar/0kwnzfnhkydqkdls2rc7ag3w795w1ffd9m2vl1ys33y5hsg961lz.nar.xz': HTTP error 200 (curl error: Transferred a partial file)
${SUBST_TAIL}`;
const TIMEOUT = `building '/nix/store/1h3iv5cwmcf70ps7q44amg7v9afcxgg0-sleepy.drv'...
error: timed out after 2 seconds
`;
const DAEMON = `error: cannot connect to socket at '/nix/var/nix/daemon-socket/socket': No such file or directory
`;
const DAEMON_OOM = `error: Nix daemon out of memory
`;
const WRITE_NOSPC = `error: writing to file: No space left on device
`;
const DUBIOUS = `fatal: detected dubious ownership in repository at '/work/wt/13/.scratch/other/c'
To add an exception for this directory, call:

	git config --global --add safe.directory /work/wt/13/.scratch/other/c
`;
const GIT_RESOLVE = `fatal: unable to access 'https://nonexistent.invalid/x.git/': Could not resolve host: nonexistent.invalid
`;
const GIT_NO_REPO = `fatal: '/nonexistent/repo.git' does not appear to be a git repository
fatal: Could not read from remote repository.

Please make sure you have the correct access rights
and the repository exists.
`;
const STC_FAIL = `activating the configuration...
setting up /etc...
Failed to run activate script
warning: error(s) occurred while switching to the new configuration
`;
const STC_NOSPC = `activating the configuration...
setting up /etc...
cp: error writing '/etc/.tmp-hosts': No space left on device
warning: error(s) occurred while switching to the new configuration
`;
const SYSTEMCTL_NO_PID1 = `System has not been booted with systemd as init system (PID 1). Can't operate.
Failed to connect to system scope bus via local transport: Host is down
`;

// Builders that die of a signal (fix13d; nix 2.34.8 in the test bed,
// test-output/sig/run{1,2,3,4}.sh of that branch). A 16 MiB tmpfs mounted over
// nix's build dir (/nix/var/nix/builds) in a private mount namespace, and a
// python3 builder that sizes a 32 MiB file, mmaps it and writes its pages (as
// lld, mold and gold write their output): `nix build -f big.nix --argstr n 32`.
// nix's note comes from its own statvfs of the store and the build dir before
// it removes the build dir (df after the failure showed the tmpfs empty again).
const SIGBUS_FULL_TMPFS = `building '/nix/store/3qijn9yyzssg6q01crcbmwpn6sbc0sgh-big-1796139398817190252a.drv'...
error: Cannot build '/nix/store/3qijn9yyzssg6q01crcbmwpn6sbc0sgh-big-1796139398817190252a.drv'.
       Reason: builder failed due to signal 7 (Bus error).
       Output paths:
         /nix/store/rvsxfskwbmg3wqmiq58bm43k4byq1f9a-big-1796139398817190252a
       note: build failure may have been caused by lack of free disk space
`;
// The same with a 1 MiB tmpfs as --option build-dir (the daemon's TMPDIR=/tmp of
// nix < 2.30 on boot.tmp.useTmpfs), without -L: nix adds the builder's last line.
const SIGBUS_FULL_BUILD_DIR = `building '/nix/store/1b5qa3xgqjhikxqzj8c0crygf8h12nnx-mmap-1796139377539197744c.drv'...
error: Cannot build '/nix/store/1b5qa3xgqjhikxqzj8c0crygf8h12nnx-mmap-1796139377539197744c.drv'.
       Reason: builder failed due to signal 7 (Bus error).
       Output paths:
         /nix/store/0zwrcafas1dci9qcvha1ar6741f6zm9c-mmap-1796139377539197744c
       Last 1 log lines:
       > build dir /tmp/small/nix-7012-323012768 {'total': 1048576, 'used': 0, 'free': 1048576}
       For full logs, run:
         nix log /nix/store/1b5qa3xgqjhikxqzj8c0crygf8h12nnx-mmap-1796139377539197744c.drv
       note: build failure may have been caused by lack of free disk space
`;
// SIGBUS with the disk not full (6 MiB written into the 16 MiB tmpfs, then
// os.kill(SIGBUS)): no note from nix; /dev/shm, a truncated mapping or a
// memory fault look like this.
const SIGBUS_NO_NOTE = `building '/nix/store/imzsjdhr9v6i14zmbvpgf4g0b8h0wl43-big-1796139398817190252c.drv'...
error: Cannot build '/nix/store/imzsjdhr9v6i14zmbvpgf4g0b8h0wl43-big-1796139398817190252c.drv'.
       Reason: builder failed due to signal 7 (Bus error).
       Output paths:
         /nix/store/4b510nbmmmj9bgmzbhr990n307lihnm1-big-1796139398817190252c
       Last 1 log lines:
       > wrote 6291456
       For full logs, run:
         nix log /nix/store/imzsjdhr9v6i14zmbvpgf4g0b8h0wl43-big-1796139398817190252c.drv
`;
const SIGSEGV = `building '/nix/store/sammfb7kb7hi6ldyq0dmbva2v2dqaypl-big-1796139398817190252b.drv'...
error: Cannot build '/nix/store/sammfb7kb7hi6ldyq0dmbva2v2dqaypl-big-1796139398817190252b.drv'.
       Reason: builder failed due to signal 11 (Segmentation fault).
       Output paths:
         /nix/store/lr9wwkh54pcbdynw6jja7yz4wp3ss95b-big-1796139398817190252b
       Last 1 log lines:
       > wrote 6291456
       For full logs, run:
         nix log /nix/store/sammfb7kb7hi6ldyq0dmbva2v2dqaypl-big-1796139398817190252b.drv
`;
// builder "/bin/sh -c 'echo asserting; kill -ABRT $$'" (nix-build sig.nix -A abrt).
const SIGABRT = `building '/nix/store/9ib5dlfbn9c19wfhjllhzf04dh85g2r5-abrt-1796139330224666410.drv'...
asserting
error: Cannot build '/nix/store/9ib5dlfbn9c19wfhjllhzf04dh85g2r5-abrt-1796139330224666410.drv'.
       Reason: builder failed due to signal 6 (Aborted).
       Output paths:
         /nix/store/4qs94ix518hryck3w4r0zh3gz4mc27pi-abrt-1796139330224666410
`;
// nix build --impure --expr 'derivation { … builder = "/bin/sh"; args = [ "-c" "kill -XFSZ $$" ]; }'
const SIGXFSZ = `error: Cannot build '/nix/store/zvjnlmdc8jm4lv7rnbmn8pdssb6dbcdp-XFSZ-1796139560197397340.drv'.
       Reason: builder failed due to signal 25 (File size limit exceeded).
`;
const SIGXCPU = `error: Cannot build '/nix/store/89rgpykah8h28zinfia5p53lchaj6zj9-XCPU-1796139560197397340.drv'.
       Reason: builder failed due to signal 24 (CPU time limit exceeded).
`;

// A store path gone under the evaluation (fix13d; nix 2.34.8 in the test bed,
// test-output/gc/gc{1,3,4}.sh). nix-build a path, \`nix-store --delete\` it, then
// evaluate \`import <path>\` (nix-instantiate --eval -E "import $P"; nix eval --impure prints the same):
const GONE_PATH = '/nix/store/67n8a32lsj63286rm08kgz4hmi9icrwn-gcme-1796139438395184289';
const GONE_IMPORT = `error:
       … while calling the 'import' builtin
         at «string»:1:1:
            1| import /nix/store/67n8a32lsj63286rm08kgz4hmi9icrwn-gcme-1796139438395184289
             | ^

       error: path '/nix/store/67n8a32lsj63286rm08kgz4hmi9icrwn-gcme-1796139438395184289' does not exist
`;
// … and through builtins.storePath, whose context nix realises first:
const GONE_INVALID = `error:
       … while calling the 'readFile' builtin
         at «string»:1:1:
            1| builtins.readFile (builtins.storePath "/nix/store/67n8a32lsj63286rm08kgz4hmi9icrwn-gcme-1796139438395184289")
             | ^

       … while realising the context of path '/nix/store/67n8a32lsj63286rm08kgz4hmi9icrwn-gcme-1796139438395184289'

       error: path '67n8a32lsj63286rm08kgz4hmi9icrwn-gcme-1796139438395184289' is not valid
`;
// A file inside a deleted store object (private store NIX_STORE_DIR=/tmp/gc4/s/store,
// so that nix-store --delete touched nothing shared): nix eval --impure --expr "import $P/sub.nix".
const GONE_SUBPATH = `error:
       … while calling the 'import' builtin
         at «string»:1:1:
            1| import /tmp/gc4/s/store/cpvbn2gyfw4vqp6m17piq916vvbd1sf4-obj/sub.nix
             | ^

       error: path '/tmp/gc4/s/store/cpvbn2gyfw4vqp6m17piq916vvbd1sf4-obj/sub.nix' does not exist
`;
// The same words for the commit's own mistake: a flake imports a file its
// (present) path: input does not have: import "\${dep}/missing.nix".
const INPUT_LACKS_FILE = `error:
       … while calling the 'import' builtin
         at /tmp/gc4/fl/flake.nix:2:40:
            1| { inputs.dep = { url = "path:/tmp/gc4/dep"; flake = false; };
            2|   outputs = { self, dep }: { missing = import "\${dep}/missing.nix"; ok = (import "\${dep}/x.nix").x; }; }
             |                                        ^
            3|

       error: path '/tmp/gc4/s/store/rgg0wyrsypkfspspz37v6wqyj4g41rnw-source/missing.nix' does not exist
`;
// … and a flake that imports a file its own tree does not have (nix 2.34 names the git repository):
const SELF_LACKS_FILE = `error:
       … while calling the 'import' builtin
         at /tmp/gc2/miss/flake.nix:1:29:
            1| { outputs = { self }: { v = import ./hosts/missing-1796139474575608388.nix; }; }
             |                             ^
            2|

       error: Path 'hosts/missing-1796139474575608388.nix' does not exist in Git repository "/tmp/gc2/miss".
`;
// nix eval --impure --expr 'let x = 1; in assert x == 2; x'
const ASSERTION = `error:
       … while evaluating the condition of the assertion '(x == 2)'
         at «string»:1:15:
            1| let x = 1; in assert x == 2; x
             |               ^

       error: an integer with value '1' is not equal to an integer with value '2'
`;

const base = (
  stage: FailureEvidence['stage'],
  tool: string,
  output: string,
  extra: Partial<FailureEvidence> = {},
): FailureEvidence => ({
  stage,
  tool,
  exitCode: 1,
  signal: null,
  timedOut: false,
  output,
  ...extra,
});

const rows: Array<[string, FailureEvidence, FailureClass, FailureCause, number]> = [
  [
    'nh: a builder exits 2 (nix 2.34 "Cannot build … Reason")',
    base('build', 'nh', nh(BUILDER_EXIT)),
    'caused-by-commit',
    'build-error',
    3,
  ],
  [
    'nix <2.24: "builder for … failed with exit code" + dependencies',
    base('build', 'nh', nh(OLD_BUILDER)),
    'caused-by-commit',
    'build-error',
    3,
  ],
  ['nh: builtins.throw in the configuration', base('build', 'nh', nh(THROW)), 'caused-by-commit', 'eval-error', 3],
  ['nh: a syntax error', base('build', 'nh', nh(SYNTAX)), 'caused-by-commit', 'eval-error', 3],
  ['nh: an undefined variable', base('build', 'nh', nh(UNDEFINED)), 'caused-by-commit', 'eval-error', 3],
  [
    'nh: the flake has no such host (does not provide attribute)',
    base('build', 'nh', nh(NO_ATTR)),
    'caused-by-commit',
    'eval-error',
    3,
  ],
  [
    'nh: a NixOS option that does not exist (lib/modules.nix)',
    base('build', 'nh', nh(NO_OPTION)),
    'caused-by-commit',
    'eval-error',
    3,
  ],
  [
    'nix: hash mismatch in a fixed-output derivation',
    base('build', 'nh', nh(FOD)),
    'caused-by-commit',
    'build-error',
    3,
  ],
  [
    'nix: a substituter warns, then a builder fails by itself',
    base('build', 'nh', nh(SUBST_WARN_THEN_BUILDER)),
    'caused-by-commit',
    'build-error',
    3,
  ],
  [
    'nix: failed to produce output path, disk not low',
    base('build', 'nh', nh(NO_OUTPUT), { lowDisk: false }),
    'caused-by-commit',
    'build-error',
    3,
  ],
  [
    'nix: failed to produce output path while preflight.diskPaths is low (lowDisk)',
    base('build', 'nh', nh(NO_OUTPUT), { lowDisk: true }),
    'environmental',
    'disk-full',
    75,
  ],
  ['nix: a builder killed by signal 9 (OOM killer)', base('build', 'nh', nh(KILLED)), 'environmental', 'killed', 75],
  [
    'nix: a builder whose log says No space left on device',
    base('build', 'nh', nh(BUILDER_NOSPC)),
    'environmental',
    'disk-full',
    75,
  ],
  ['nix: sqlite "database or disk is full"', base('build', 'nh', nh(SQLITE_FULL)), 'environmental', 'disk-full', 75],
  [
    'nix <2.30: "writing to file: No space left on device"',
    base('build', 'nh', nh(WRITE_NOSPC)),
    'environmental',
    'disk-full',
    75,
  ],
  [
    'nix: a locked git+file input whose repository is away',
    base('build', 'nh', nh(INPUT_AWAY)),
    'environmental',
    'fetch-failed',
    75,
  ],
  ['nix: fetchurl cannot connect', base('build', 'nh', nh(DOWNLOAD)), 'environmental', 'network', 75],
  ['nix: a tarball input answers HTTP 503', base('build', 'nh', nh(HTTP_503)), 'environmental', 'network', 75],
  [
    'nix: a substituter serves a corrupted NAR (no --fallback)',
    base('build', 'nh', nh(SUBST_CORRUPT)),
    'environmental',
    'substitute-failed',
    75,
  ],
  [
    'nix: a substituter serves a body that is not a NAR (no --fallback)',
    base('build', 'nh', nh(SUBST_NOT_NAR)),
    'environmental',
    'substitute-failed',
    75,
  ],
  [
    'nix: a substituter cuts the NAR download off (no --fallback)',
    base('build', 'nh', nh(SUBST_CUT)),
    'environmental',
    'network',
    75,
  ],
  ['nix --timeout: "timed out after 2 seconds"', base('build', 'nh', nh(TIMEOUT)), 'environmental', 'timeout', 75],
  [
    'our runner timed out the build (timeouts.buildSec)',
    base('build', 'nh', 'building ...\n', { exitCode: null, timedOut: true }),
    'environmental',
    'timeout',
    75,
  ],
  [
    'nh killed by SIGKILL (no exit code)',
    base('build', 'nh', '', { exitCode: null, signal: 'SIGKILL' }),
    'environmental',
    'killed',
    75,
  ],
  ['nix: the daemon socket is missing', base('build', 'nh', nh(DAEMON)), 'environmental', 'nix-daemon', 75],
  ['nix: the daemon runs out of memory', base('build', 'nh', nh(DAEMON_OOM)), 'environmental', 'out-of-memory', 75],
  [
    'nh: an error nix did not explain',
    base('build', 'nh', `Error: \n   0: Failed to build configuration\n   1: Command exited with status Exited(1)\n`),
    'unknown',
    'unrecognised',
    75,
  ],
  [
    'nix: a builder dies of SIGBUS on a full 16 MiB tmpfs build dir (nix notes the lack of space)',
    base('build', 'nh', nh(SIGBUS_FULL_TMPFS)),
    'environmental',
    'disk-full',
    75,
  ],
  [
    'nix: a builder dies of SIGBUS on a full 1 MiB tmpfs as build-dir, with its last log line',
    base('build', 'nh', nh(SIGBUS_FULL_BUILD_DIR)),
    'environmental',
    'disk-full',
    75,
  ],
  [
    'nix: a builder dies of SIGBUS and nix saw no full disk (/dev/shm, a memory fault)',
    base('build', 'nh', nh(SIGBUS_NO_NOTE)),
    'environmental',
    'bus-error',
    75,
  ],
  [
    'nix: a builder segfaults, the disk not low (a crashing program of the new closure)',
    base('build', 'nh', nh(SIGSEGV), { lowDisk: false }),
    'caused-by-commit',
    'build-error',
    3,
  ],
  [
    'nix: a builder segfaults while preflight.diskPaths is low',
    base('build', 'nh', nh(SIGSEGV), { lowDisk: true }),
    'environmental',
    'disk-full',
    75,
  ],
  ['nix: a builder aborts (SIGABRT)', base('build', 'nh', nh(SIGABRT)), 'caused-by-commit', 'build-error', 3],
  [
    'nix: a builder exceeds a file size limit (SIGXFSZ)',
    base('build', 'nh', nh(SIGXFSZ)),
    'environmental',
    'killed',
    75,
  ],
  [
    'nix: a builder exceeds a CPU time limit (SIGXCPU)',
    base('build', 'nh', nh(SIGXCPU)),
    'environmental',
    'killed',
    75,
  ],
  [
    'nix: evaluation imports a store path that was deleted (gone when looked at)',
    base('build', 'nh', nh(GONE_IMPORT), { goneStorePaths: [GONE_PATH] }),
    'environmental',
    'store-path-gone',
    75,
  ],
  [
    'nix: evaluation realises the context of a deleted store path ("is not valid")',
    base('build', 'nh', nh(GONE_INVALID), { goneStorePaths: [GONE_PATH] }),
    'environmental',
    'store-path-gone',
    75,
  ],
  [
    'nix: evaluation imports a file inside a deleted store object',
    base('build', 'nh', nh(GONE_SUBPATH), {
      goneStorePaths: ['/tmp/gc4/s/store/cpvbn2gyfw4vqp6m17piq916vvbd1sf4-obj'],
    }),
    'environmental',
    'store-path-gone',
    75,
  ],
  [
    'nix: "path … does not exist" with the store object there is not a GC',
    base('build', 'nh', nh(GONE_IMPORT), { goneStorePaths: [] }),
    'caused-by-commit',
    'eval-error',
    3,
  ],
  [
    'nix: the commit imports a file its present input lacks (same words, object there)',
    base('build', 'nh', nh(INPUT_LACKS_FILE), { goneStorePaths: [] }),
    'caused-by-commit',
    'eval-error',
    3,
  ],
  [
    'nix: the commit imports a file its own tree lacks, while some other store path is gone',
    base('build', 'nh', nh(SELF_LACKS_FILE), { goneStorePaths: [GONE_PATH] }),
    'caused-by-commit',
    'eval-error',
    3,
  ],
  [
    'nix: a syntax error while some store path is gone',
    base('build', 'nh', nh(SYNTAX), { goneStorePaths: [GONE_PATH] }),
    'caused-by-commit',
    'eval-error',
    3,
  ],
  [
    'nix: an undefined variable while some store path is gone',
    base('build', 'nh', nh(UNDEFINED), { goneStorePaths: [GONE_PATH] }),
    'caused-by-commit',
    'eval-error',
    3,
  ],
  [
    'nix: a failed assertion while some store path is gone',
    base('build', 'nh', nh(ASSERTION), { goneStorePaths: [GONE_PATH] }),
    'caused-by-commit',
    'eval-error',
    3,
  ],
  [
    'switch-to-configuration test exits 1 (activation script)',
    base('activation', 'switch-to-configuration', STC_FAIL),
    'caused-by-commit',
    'activation-error',
    4,
  ],
  [
    'switch-to-configuration hits a full disk',
    base('activation', 'switch-to-configuration', STC_NOSPC),
    'environmental',
    'disk-full',
    75,
  ],
  [
    'switch-to-configuration never returns (hang)',
    base('activation', 'switch-to-configuration', 'activating the configuration...\n', {
      exitCode: null,
      timedOut: true,
    }),
    'unknown',
    'activation-hang',
    75,
  ],
  [
    'switch-to-configuration: systemd is not running (no bus)',
    base('activation', 'switch-to-configuration', SYSTEMCTL_NO_PID1),
    'environmental',
    'systemd-unreachable',
    75,
  ],
  ['git: dubious ownership', base('fetch', 'git', DUBIOUS, { exitCode: 128 }), 'environmental', 'ownership', 75],
  [
    'git: the remote host does not resolve',
    base('fetch', 'git', GIT_RESOLVE, { exitCode: 128 }),
    'environmental',
    'network',
    75,
  ],
  [
    'git: the remote repository is gone',
    base('fetch', 'git', GIT_NO_REPO, { exitCode: 128 }),
    'environmental',
    'network',
    75,
  ],
  [
    'post-switch: a check that failed before the change fails after it',
    base('post-switch', 'check', '', { failingBefore: ['upstream'], failingAfter: ['upstream'] }),
    'environmental',
    'check-already-failing',
    6,
  ],
  [
    'post-switch: a check that passed before fails after',
    base('post-switch', 'check', '', { failingBefore: [], failingAfter: ['sshd.service'] }),
    'caused-by-commit',
    'check-regressed',
    4,
  ],
  [
    'post-switch: a check that passed before fails after, and on the previous system once it is back',
    base('post-switch', 'check', '', {
      failingBefore: [],
      failingAfter: ['upstream'],
      failingOnPrevious: ['upstream'],
    }),
    'environmental',
    'check-fails-on-previous',
    75,
  ],
  [
    'post-switch: two checks fail after, only one of them on the previous system',
    base('post-switch', 'check', '', {
      failingBefore: [],
      failingAfter: ['upstream', 'sshd.service'],
      failingOnPrevious: ['upstream'],
    }),
    'caused-by-commit',
    'check-regressed',
    4,
  ],
  [
    'post-switch: no pre-check on record',
    base('post-switch', 'check', '', { failingAfter: ['sshd.service'] }),
    'unknown',
    'unrecognised',
    75,
  ],
  [
    'boot: the golden fails the same checks',
    base('boot', 'check', '', { failingAfter: ['sshd.service'], goldenFailsToo: true }),
    'environmental',
    'golden-fails-too',
    75,
  ],
];

describe('classifyFailure: real nix, nh, git and systemctl outputs', () => {
  it('has at least 25 rows', () => expect(rows.length).toBeGreaterThanOrEqual(25));
  it.each(rows)('%s', (_label, ev, cls, cause, exit) => {
    const v = classifyFailure(ev);
    expect({ class: v.class, cause: v.cause }).toEqual({ class: cls, cause });
    expect(exitCodeForFailure(ev.stage, v)).toBe(exit);
    expect(v.retry).toBe(
      cls === 'caused-by-commit' ? 'never' : ev.stage === 'build' || cls === 'unknown' ? 'backoff' : 'next-run',
    );
    expect(v.summary).not.toMatch(/\n/);
  });
});

describe('the evidence is the whole meaningful error, not its first line', () => {
  it('keeps the innermost cause of a nested evaluation error', () => {
    const v = classifyFailure(base('build', 'nh', nh(INPUT_AWAY)));
    expect(v.evidence).toMatch(/^error:/);
    expect(v.evidence).toContain("while calling the 'derivationStrict' builtin");
    expect(v.evidence).toContain('error: Git repository "/work/wt/13/.scratch/inp" does not exist.');
    expect(v.summary).toContain('Git repository "/work/wt/13/.scratch/inp" does not exist.');
  });
  it('keeps the builder log lines and drops warnings and progress', () => {
    const e = meaningfulError(nh(SUBST_WARN_THEN_BUILDER));
    expect(e).not.toMatch(/warning:|this derivation will be built|^building/m);
    expect(e).toContain('> oops');
    expect(e).toContain('Reason: builder failed with exit code 2.');
    expect(e).toContain('Failed to build configuration');
  });
  it('the key line joins "Cannot build" and its reason', () => {
    expect(keyLine(meaningfulError(BUILDER_EXIT))).toBe(
      "error: Cannot build '/nix/store/cn7pkbhf00gbkqdqjkm8qf8lxv1x2zyb-fails.drv'. Reason: builder failed with exit code 2.",
    );
  });
  it("keeps git's advice under fatal:", () => {
    expect(meaningfulError(DUBIOUS)).toContain('safe.directory');
  });
  it('is bounded from the end (the cause is last)', () => {
    const long = `error: start\n${'       x\n'.repeat(2000)}       error: the real cause\n`;
    const e = meaningfulError(long);
    expect(e.length).toBeLessThanOrEqual(8001);
    expect(e).toContain('the real cause');
  });
});

describe('storeObjectsNamedMissing: the store objects an error names as missing', () => {
  it.each([
    ['a whole object that does not exist', GONE_IMPORT, [GONE_PATH]],
    ['an invalid bare name, its dir taken from the context frame', GONE_INVALID, [GONE_PATH]],
    ['a file inside an object (the object)', GONE_SUBPATH, ['/tmp/gc4/s/store/cpvbn2gyfw4vqp6m17piq916vvbd1sf4-obj']],
    ['a file inside an input', INPUT_LACKS_FILE, ['/tmp/gc4/s/store/rgg0wyrsypkfspspz37v6wqyj4g41rnw-source']],
    ['a file of the flake tree (not a store path)', SELF_LACKS_FILE, []],
    [
      'an invalid bare name with no full path to place it',
      "error: path '67n8a32lsj63286rm08kgz4hmi9icrwn-gcme-1' is not valid\n",
      [],
    ],
    ['a syntax error', SYNTAX, []],
    ['a builder failure', SIGBUS_NO_NOTE, []],
  ] as const)('%s', (_label, text, expected) => {
    expect(storeObjectsNamedMissing(text)).toEqual(expected);
  });
});

describe('retryDelayMs', () => {
  const H = 3_600_000;
  it.each([
    ['disk-full', 1, 0],
    ['disk-full', 2, H],
    ['disk-full', 3, 2 * H],
    ['unrecognised', 7, 24 * H],
    ['activation-hang', 1, 48 * H],
    ['activation-hang', 2, 96 * H],
    ['activation-hang', 9, 16 * 24 * H],
  ] as const)('%s after %d failure(s): %d ms', (cause, n, ms) => {
    expect(retryDelayMs(cause, n)).toBe(ms);
  });
});

// Captured verbatim from the real tools (classify session): nix 2.34.8 through
// the nh shim, git 2.55.0, in the test bed; test/fixtures/nix-failures/produce.sh
// made each one (the file name is its case there).
const captured = (name: string): string =>
  readFileSync(new URL(`../../fixtures/nix-failures/${name}.txt`, import.meta.url), 'utf8');
const FOD_DRV = '/nix/store/172zkjw00aa3friw9xsvci8s5afcc880-fod-net-15768.drv';
const FOD_503_DRV = '/nix/store/675yvv4q7ybgj9jy8ivc5cmvk9f6x7h7-fod-503-8981.drv';
const FOD_BUILTIN_DRV = '/nix/store/d9q1kl95vx4qb1w9xljxjvbgf5vng4h3-x.tar.gz.drv';
const FOD_RPC_DRV = '/nix/store/75gq62xbhsf4xslz1cvmk5xqmm96scya-fod-rpc-drop-31730.drv';
const FOD_DEP_DRV = '/nix/store/xzrcrjlg47qm79234l0pwjxwgv0gc263-src-6821.drv';

const capturedRows: Array<[string, FailureEvidence['stage'], Partial<FailureEvidence>, FailureClass, FailureCause]> = [
  // evaluation (nh exit 1)
  ['failed-assertions', 'build', {}, 'caused-by-commit', 'eval-error'],
  ['infrec2', 'build', {}, 'caused-by-commit', 'eval-error'],
  ['assert-bool', 'build', {}, 'caused-by-commit', 'eval-error'],
  ['abort', 'build', {}, 'caused-by-commit', 'eval-error'],
  ['not-drv', 'build', {}, 'caused-by-commit', 'eval-error'], // was unknown
  // builders
  ['noexec', 'build', {}, 'caused-by-commit', 'build-error'], // "Permission denied" in its log: was permission
  ['builder-rofs', 'build', {}, 'caused-by-commit', 'build-error'], // "Read-only file system" in its log: was permission
  ['builder-net', 'build', {}, 'caused-by-commit', 'build-error'], // not a fetcher, network error in its log: was network
  ['fod-net', 'build', { fixedOutputDrvs: [FOD_DRV] }, 'environmental', 'network'],
  ['fod-net', 'build', {}, 'caused-by-commit', 'build-error'], // the .drv not read: judged as any builder
  ['fod-dep', 'build', { fixedOutputDrvs: [FOD_DEP_DRV] }, 'environmental', 'network'],
  ['fod-dep', 'build', {}, 'caused-by-commit', 'build-error'],
  ['nooutput', 'build', {}, 'caused-by-commit', 'build-error'],
  ['sigterm', 'build', {}, 'environmental', 'killed'],
  // a child of the builder SIGKILLed (the OOM killer picks cc1plus or rustc, not make): was build-error, a good commit marked bad
  ['child-killed', 'build', {}, 'environmental', 'killed'],
  ['child-killed-bash', 'build', {}, 'environmental', 'killed'],
  ['fod-503', 'build', { fixedOutputDrvs: [FOD_503_DRV] }, 'environmental', 'network'],
  // nix's builtin:fetchurl: its error: block (with an empty "       >" line) quoted as the builder's log
  ['fod-builtin-503', 'build', { fixedOutputDrvs: [FOD_BUILTIN_DRV] }, 'environmental', 'network'],
  ['fod-builtin-503', 'build', {}, 'caused-by-commit', 'build-error'],
  // git over http cut off in the middle of the pack ("RPC failed; curl 18"): was build-error, a good commit marked bad
  ['fod-rpc-drop', 'build', { fixedOutputDrvs: [FOD_RPC_DRV] }, 'environmental', 'network'],
  ['subst-down', 'build', {}, 'caused-by-commit', 'build-error'],
  // inputs and the store
  ['input-git-http', 'build', {}, 'environmental', 'network'],
  ['input-tarball', 'build', {}, 'environmental', 'network'],
  ['input-github', 'build', {}, 'environmental', 'network'],
  ['remote-down', 'build', {}, 'environmental', 'network'], // was eval-error: git's errno line was dropped
  ['remote-rev-gone', 'build', {}, 'environmental', 'fetch-failed'], // was eval-error
  ['lock-rev-gone', 'build', {}, 'environmental', 'fetch-failed'], // was eval-error
  ['input-gone', 'build', {}, 'environmental', 'fetch-failed'],
  ['daemon', 'build', {}, 'environmental', 'nix-daemon'],
  ['nixtimeout', 'build', {}, 'environmental', 'timeout'],
  ['store-full', 'build', {}, 'environmental', 'disk-full'],
  ['store-full-eval', 'build', {}, 'environmental', 'disk-full'],
  // gitopsd's own fetch of nix-config (exit 128; never blamed on a commit)
  ['git-remote-down', 'fetch', { exitCode: 128 }, 'environmental', 'network'], // was unknown
  ['git-auth', 'fetch', { exitCode: 128 }, 'environmental', 'fetch-failed'], // was unknown
  ['git-auth-wrong', 'fetch', { exitCode: 128 }, 'environmental', 'fetch-failed'], // was unknown
  ['git-ref-deleted', 'fetch', { exitCode: 128 }, 'unknown', 'unrecognised'],
];

describe('classifyFailure: outputs captured from the real tools (test/fixtures/nix-failures)', () => {
  it.each(capturedRows)('%s (%s) %j', (name, stage, extra, cls, cause) => {
    const ev = base(stage, stage === 'fetch' ? 'git' : 'nh', captured(name), extra);
    const v = classifyFailure(ev);
    expect({ class: v.class, cause: v.cause }).toEqual({ class: cls, cause });
    expect(v.summary).not.toMatch(/\n/);
  });
  it.each([
    'Reason: builder failed with exit code 137.',
    "error: builder for '/nix/store/g8qmjb2wc7c6rdlvqg426shk6mq7m25i-child-killed-239869628.drv' failed with exit code 137",
  ])('a builder that exits 137 (its last command SIGKILLed) is not the commit: %s', (line) => {
    const out = captured('child-killed')
      .replace('> Killed\n', '')
      .replace(/^\s*Reason: builder failed with exit code 1\.$/m, `       ${line}`);
    expect(out).toContain(line);
    expect(classifyFailure(base('build', 'nh', out, {})).cause).toBe('killed');
  });
  // The fod-rpc-drop capture with what curl (nixpkgs' fetchurl builder) prints for a transfer that failed on the way.
  it.each([
    'curl: (28) Operation timed out after 300000 milliseconds with 0 out of 0 bytes received',
    'curl: (22) The requested URL returned error: 503',
    'curl: (18) transfer closed with 1024 bytes remaining to read',
    'curl: (92) HTTP/2 stream 1 was not closed cleanly: INTERNAL_ERROR (err 2)',
    'curl: (52) Empty reply from server',
    'curl: (35) OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to example.org:443',
    'fatal: the remote end hung up unexpectedly',
  ])("a fetcher's transfer that failed on the way is not the commit: %s", (line) => {
    const out = captured('fod-rpc-drop').replace(/> error: RPC failed.*\n.*\n.*\n/, `> ${line}\n`);
    expect(out).toContain(line);
    expect(classifyFailure(base('build', 'nh', out, { fixedOutputDrvs: [FOD_RPC_DRV] })).cause).toBe('network');
  });
  it("a 404 in a fetcher's log stays the commit's (a URL it got wrong)", () => {
    const out = captured('fod-rpc-drop').replace(
      /> error: RPC failed.*\n.*\n.*\n/,
      '> curl: (22) The requested URL returned error: 404\n',
    );
    expect(classifyFailure(base('build', 'nh', out, { fixedOutputDrvs: [FOD_RPC_DRV] })).class).toBe(
      'caused-by-commit',
    );
  });
  // The child-killed capture with the line another parent prints in place of dash's "Killed".
  it.each([
    'g++: fatal error: Killed signal terminated program cc1plus',
    'collect2: fatal error: ld terminated with signal 9 [Killed]',
    'make: *** [Makefile:12: all] Error 137',
    "process didn't exit successfully: `rustc --crate-name foo` (signal: 9, SIGKILL: kill)",
    'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space',
  ])('a killed child in a builder log is not the commit: %s', (line) => {
    const out = captured('child-killed').replace('> Killed', `> ${line}`);
    expect(classifyFailure(base('build', 'nh', out, {})).class).toBe('environmental');
  });
  it("names the message of a bare error: block (NixOS's Failed assertions)", () => {
    expect(keyLine(meaningfulError(captured('failed-assertions')))).toBe(
      'error: Failed assertions: - services.foo.enable needs services.bar',
    );
  });
  it('names the derivation that failed by itself, not the one that needed it', () => {
    expect(keyLine(meaningfulError(captured('fod-dep')))).toBe(
      `error: Cannot build '${FOD_DEP_DRV}'. Reason: builder failed with exit code 128.`,
    );
    expect(failedDrvsNamed(captured('fod-dep'))).toEqual([
      FOD_DEP_DRV,
      '/nix/store/hvrqwpbgihcfg2j5vlvxqimr3qrq7vxj-top-9935.drv',
    ]);
  });
  it("keeps git's errno line under fatal: unable to connect", () => {
    expect(meaningfulError(captured('remote-down'))).toContain('errno=Connection refused');
  });
  it('splits a builder log from nix own lines', () => {
    const { own, builderLog } = splitBuilderLog(meaningfulError(captured('noexec')));
    expect(builderLog.trim()).toBe('> sh: 1: ./configure: Permission denied');
    expect(own).toContain('Reason: builder failed with exit code 126.');
    expect(own).not.toContain('Permission denied');
  });
  it('names the failed derivations', () => {
    expect(failedDrvsNamed(captured('fod-net'))).toEqual([FOD_DRV]);
    expect(failedDrvsNamed(captured('nooutput'))).toEqual([
      '/nix/store/l33qjxzijjv5l3r8h6vs4nz0z6idznxm-nooutput-485317746.drv',
    ]);
    expect(failedDrvsNamed(captured('remote-down'))).toEqual([]);
  });
  it("never takes a derivation from a builder's own log lines (the build prints what it likes)", () => {
    const forged = `${captured('noexec')}\n       > error: Cannot build '${FOD_DRV}'.\n`;
    expect(failedDrvsNamed(forged)).not.toContain(FOD_DRV);
    expect(failedDrvsNamed(forged)).toEqual(failedDrvsNamed(captured('noexec')));
  });
  it('tells a fixed-output .drv from others (the heads of the real .drv files)', () => {
    expect(
      isFixedOutputDrv(
        'Derive([("out","/nix/store/yjblgnqrxpk9b1aawclnrl1rnd11n2mm-fod-net-15768","r:sha256","0000000000000000000000000000000000000000000000000000000000000000")],[],[],"x86_64-linux","/bin/sh",',
      ),
    ).toBe(true);
    expect(
      isFixedOutputDrv(
        'Derive([("out","/nix/store/r3ymz6iskg024hgbr5b3yr1p1jsdx1ni-builder-net-255996725","","")],[],[],"x86_64-linux","/bin/sh",',
      ),
    ).toBe(false);
    // a floating content-addressed derivation: an algorithm, no hash
    expect(isFixedOutputDrv('Derive([("out","","r:sha256","")],[],[],')).toBe(false);
  });
});

// A kill or a full disk above nix's window (the last 25 log lines): the whole
// log, as `nix-store --read-log` printed it (fulllog in produce.sh: NAME.txt
// is nh's stderr, NAME.log the full log).
describe("classifyFailure: a builder's full log, when nix's last lines would blame the commit", () => {
  const fullLog = (name: string): FullBuildLog => {
    const text = readFileSync(new URL(`../../fixtures/nix-failures/${name}.log`, import.meta.url), 'utf8');
    const [drv] = drvsFailedByBuilder(captured(name));
    const total = { bytes: Buffer.byteLength(text), newlines: text.split('\n').length - 1 };
    return fullBuildLogFrom(drv ?? '', text, total, FULL_LOG_TAIL_BYTES);
  };
  const noLog: FullBuildLog = {
    drv: drvsFailedByBuilder(captured('fulllog-nolog'))[0] ?? '',
    read: false,
    why: captured('fulllog-nolog.readlog'),
  };
  it.each<[string, Partial<FailureEvidence>, FailureClass, FailureCause, string]>([
    // (a) make -j: a job's compiler SIGKILLed (dash: "Killed"), 40 more lines, exit 2
    ['fulllog-killed', {}, 'caused-by-commit', 'build-error', ''],
    [
      'fulllog-killed',
      { fullBuildLogs: [fullLog('fulllog-killed')] },
      'environmental',
      'killed',
      'line 14 of 54: `Killed`',
    ],
    // (b) ENOSPC (a real one, a 64 KiB tmpfs), then 40 lines of a test report
    [
      'fulllog-disk',
      { fullBuildLogs: [fullLog('fulllog-disk')] },
      'environmental',
      'disk-full',
      "line 2 of 42: `head: error writing 'standard output': No space left on device`",
    ],
    // (c) control: an ordinary compile error 60 lines up stays the commit's
    [
      'fulllog-plain',
      { fullBuildLogs: [fullLog('fulllog-plain')] },
      'caused-by-commit',
      'build-error',
      'no sign of the environment',
    ],
    // no log kept (keep-build-log = false): judged on what nix showed, and the evidence says so
    [
      'fulllog-nolog',
      { fullBuildLogs: [noLog] },
      'caused-by-commit',
      'build-error',
      'could not read the full build log',
    ],
  ])('%s %#', (name, extra, cls, cause, says) => {
    const v = classifyFailure(base('build', 'nh', captured(name), extra));
    expect({ class: v.class, cause: v.cause }).toEqual({ class: cls, cause });
    expect(v.evidence).toContain(says);
    if (cls === 'environmental') expect(v.summary).toContain(says);
  });
  it('reads the full log only of a builder that failed by itself, only when the commit would be blamed', () => {
    const ev = (name: string): FailureEvidence => base('build', 'nh', captured(name), {});
    expect(planFullLogReads(ev('fulllog-killed'))).toEqual(drvsFailedByBuilder(captured('fulllog-killed')));
    expect(planFullLogReads(ev('fulllog-killed'))).toHaveLength(1);
    expect(planFullLogReads(ev('fod-dep'))).toEqual([FOD_DEP_DRV]); // not the one that only needed it
    expect(planFullLogReads(ev('child-killed'))).toEqual([]); // already environmental
    expect(planFullLogReads(ev('infrec2'))).toEqual([]); // an evaluation error has no build log
  });
  it('judges only the last FULL_LOG_JUDGED_LINES lines: the same words far up are not what ended the builder', () => {
    const [drv] = drvsFailedByBuilder(captured('fulllog-plain'));
    const at = (n: number): FullBuildLog => {
      const lines = Array.from({ length: FULL_LOG_JUDGED_LINES + 500 }, (_, i) => `cc -c f${i}.c`);
      lines[lines.length - n] = 'test_write_full ... ENOSPC handled: ok';
      const text = `${lines.join('\n')}\n`;
      return fullBuildLogFrom(drv ?? '', text, { bytes: text.length, newlines: lines.length }, FULL_LOG_TAIL_BYTES);
    };
    const far = classifyFailure(
      base('build', 'nh', captured('fulllog-plain'), { fullBuildLogs: [at(FULL_LOG_JUDGED_LINES + 1)] }),
    );
    expect({ class: far.class, cause: far.cause }).toEqual({ class: 'caused-by-commit', cause: 'build-error' });
    expect(far.evidence).toContain(`only its last ${FULL_LOG_JUDGED_LINES.toLocaleString('en-US')} lines`);
    const near = classifyFailure(
      base('build', 'nh', captured('fulllog-plain'), { fullBuildLogs: [at(FULL_LOG_JUDGED_LINES)] }),
    );
    expect({ class: near.class, cause: near.cause }).toEqual({ class: 'environmental', cause: 'disk-full' });
    expect(near.summary).toContain('line 501 of 2,500');
  });
  it('numbers the lines of a tail by the whole log', () => {
    const l = fullBuildLogFrom('/x.drv', 'cut line\nline 49\nline 50\n', { bytes: 1000, newlines: 50 }, 24);
    expect(l).toEqual({
      drv: '/x.drv',
      read: true,
      text: 'line 49\nline 50\n',
      firstLine: 49,
      totalLines: 50,
      totalBytes: 1000,
    });
  });
});
