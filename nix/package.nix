# The gitopsd package: TypeScript compiled with the project's own `npm run
# build`, production node_modules only, and a node wrapper for every command
# in package.json "bin" (gitopsd, chezmoi-sync, chezmoi-status,
# chezmoi-show-conflicts, show-boot-status, pin-golden, show-golden,
# rollback-to-golden). Dependencies come from package-lock.json through
# importNpmLock: there is no npmDepsHash to keep up to date by hand.
{
  lib,
  stdenv,
  buildNpmPackage,
  importNpmLock,
  installShellFiles,
  nodejs,
}:
let
  packageJSON = lib.importJSON ../package.json;
  # Only what the build reads: a change to docs or tests does not rebuild.
  # `npm run build` is `node scripts/build-stamp.mjs begin` (a digest of the
  # inputs, for the test run; "no-git" here), `tsc -p tsconfig.build.json`
  # (which extends tsconfig.json), `node scripts/bundle.mjs`, then `node
  # scripts/gen-man.mjs`
  # (dist/man/gitopsd.1, from the commands' --help); the bins load
  # dist/bundle/; `npm pack` adds README.md. test/integration/nix/
  # package-build.test.ts builds a copy of exactly this tree and runs every bin.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../package.json
      ../package-lock.json
      ../tsconfig.json
      ../tsconfig.build.json
      ../scripts/bundle.mjs
      ../scripts/gen-man.mjs
      ../scripts/build-stamp.mjs
      ../scripts/git-query.mjs
      ../scripts/string-width-lazy.mjs
      ../src
      ../bin
      ../README.md
    ];
  };
in
buildNpmPackage {
  pname = "gitopsd";
  inherit (packageJSON) version;
  inherit src nodejs;

  npmDeps = importNpmLock {
    npmRoot = src;
    packageLock = import ./npm-lock.nix { lock = lib.importJSON ../package-lock.json; };
  };
  npmConfigHook = importNpmLock.npmConfigHook;

  # `npm run build` (tsc -p tsconfig.build.json) writes dist/. The install
  # hook then packs the "files" of package.json (bin, dist, README.md),
  # prunes devDependencies and wraps each "bin" entry with node.
  npmBuildScript = "build";

  nativeBuildInputs = [ installShellFiles ];

  # The man page is built by `npm run build` (scripts/gen-man.mjs) from the
  # commands' own --help; the completion scripts are what the installed
  # `gitopsd completion SHELL` prints (yargs' templates), so both always match
  # the commands of this build. installShellFiles (pkgs/by-name/in/
  # installShellFiles/setup-hook.sh): installManPage puts gitopsd.1 under
  # share/man/man1/ (fixup's compressManPages gzips it); `--cmd gitopsd` names
  # the completions share/bash-completion/completions/gitopsd.bash,
  # share/zsh/site-functions/_gitopsd and
  # share/fish/vendor_completions.d/gitopsd.fish. The completion needs to run
  # the built program, so a cross build (which cannot) installs none.
  postInstall = ''
    installManPage dist/man/gitopsd.1
  ''
  + lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
    installShellCompletion --cmd gitopsd \
      --bash <($out/bin/gitopsd completion bash) \
      --zsh <($out/bin/gitopsd completion zsh) \
      --fish <($out/bin/gitopsd completion fish)
  '';

  # For nix/module.nix: gitopsd.service starts `gitopsd daemon` as
  # `<nodejs>/bin/node <daemonNodeFlags> $out/lib/node_modules/gitopsd/bin/gitopsd`,
  # with the node the bins run on and this version's package.json
  # "gitopsd"."daemonNodeFlags" (src/cycle/daemon-node.ts).
  passthru = {
    inherit nodejs;
    inherit (packageJSON.gitopsd) daemonNodeFlags;
  };

  # The test suite drives real git, jj, chezmoi and nix in a simulated host;
  # it runs in CI (scripts/testbed), not in the package sandbox.
  doCheck = false;

  meta = {
    description = packageJSON.description;
    license = lib.licenses.mit;
    mainProgram = "gitopsd";
    platforms = lib.platforms.linux;
  };
}
