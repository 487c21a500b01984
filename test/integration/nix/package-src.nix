# The `src` of nix/package.nix, evaluated with the real nixpkgs `lib` (its
# lib.fileset), as `buildNpmPackage` would receive it. Prints the store path
# of the source tree:
#
#   nix-instantiate --eval --read-write-mode --json \
#     test/integration/nix/package-src.nix --argstr nixpkgs <dir>
#
# `nixpkgs` is a nixpkgs checkout (test/harness/nixpkgs.ts). Only `src` is
# read; the builders are never called, so they are stand-ins that fail
# loudly if anything else were evaluated.
{ nixpkgs }:
let
  lib = import (/. + nixpkgs + "/lib");
  attrs = import ../../../nix/package.nix {
    inherit lib;
    # buildNpmPackage's argument is what package.nix builds from.
    buildNpmPackage = args: args;
    importNpmLock = throw "package-src.nix: importNpmLock is not available here (only src is evaluated)";
    nodejs = throw "package-src.nix: nodejs is not available here (only src is evaluated)";
  };
in
"${attrs.src}"
