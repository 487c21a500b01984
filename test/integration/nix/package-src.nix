# What nix/package.nix hands to `buildNpmPackage`, evaluated with the real
# nixpkgs `lib` (its lib.fileset): the store path of the source tree, the
# postInstall script, the names of the nativeBuildInputs and the daemon's
# node flags (passthru.daemonNodeFlags). Prints JSON:
#
#   nix-instantiate --eval --strict --read-write-mode --json \
#     test/integration/nix/package-src.nix --argstr nixpkgs <dir>
#
# `nixpkgs` is a nixpkgs checkout (test/harness/nixpkgs.ts). The builders are
# never called, so they are stand-ins that fail loudly if anything else were
# evaluated; `installShellFiles` stands for itself by name, and `stdenv` is a
# native build (build platform can execute the host's programs).
{ nixpkgs }:
let
  lib = import (/. + nixpkgs + "/lib");
  attrs = import ../../../nix/package.nix {
    inherit lib;
    stdenv = {
      buildPlatform.canExecute = _host: true;
      hostPlatform = { };
    };
    # buildNpmPackage's argument is what package.nix builds from.
    buildNpmPackage = args: args;
    importNpmLock = throw "package-src.nix: importNpmLock is not available here (only src is evaluated)";
    installShellFiles = "installShellFiles";
    nodejs = throw "package-src.nix: nodejs is not available here (only src is evaluated)";
  };
in
{
  src = "${attrs.src}";
  postInstall = attrs.postInstall or "";
  nativeBuildInputs = attrs.nativeBuildInputs or [ ];
  # What nix/module.nix puts into gitopsd.service's ExecStart (passthru).
  inherit (attrs.passthru) daemonNodeFlags;
}
