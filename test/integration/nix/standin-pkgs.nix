# The nixpkgs packages nix/module.nix and nixos/lib's systemd rendering use,
# as stand-ins: shared/nixpkgs-eval has nixpkgs' lib, not its packages
# (its README). A stand-in package is an unbuildable derivation, so
# `types.package`, string interpolation and makeBinPath treat it exactly as
# a real one; its store path just never exists on disk (the unit test
# creates the programs a unit runs under a temp root for systemd-analyze).
#
# - formats.json: the type is nixpkgs' (pkgs/pkgs-lib/formats.nix: null or
#   bool, int, float, str, path, attrs or list of these, "JSON value");
#   generate writes the same JSON with builtins.toFile instead of running jq,
#   so the test reads the file /etc/gitopsd/config.json would hold (run
#   nix-instantiate with --read-write-mode).
# - runCommand, writeText: derivations that keep their inputs as attributes
#   (buildCommand, nativeBuildInputs, text), as nixpkgs' do, so the test
#   reads the script of the build-time config check.
{ lib }:
let
  standin =
    name: extra:
    derivation (
      {
        inherit name;
        system = builtins.currentSystem;
        builder = "/bin/sh";
        args = [
          "-c"
          "echo 'stand-in package ${name} (test/integration/nix/standin-pkgs.nix) cannot be built' >&2; exit 1"
        ];
      }
      // extra
    );
  pkg = name: standin name { };
in
{
  formats.json = { }: {
    type =
      let
        valueType =
          lib.types.nullOr (
            lib.types.oneOf [
              lib.types.bool
              lib.types.int
              lib.types.float
              lib.types.str
              lib.types.path
              (lib.types.attrsOf valueType)
              (lib.types.listOf valueType)
            ]
          )
          // {
            description = "JSON value";
          };
      in
      valueType;
    generate = name: value: builtins.toFile name (builtins.toJSON value);
  };
  runCommand = name: env: buildCommand: standin name (env // { inherit buildCommand; });
  writeText = name: text: standin name { inherit text; };
  writeShellScriptBin = name: text: standin name { inherit text; };

  # As nix/package.nix's passthru: the node its bins run on (a node of its
  # own name, so a test sees which node the module picked) and package.json's
  # daemonNodeFlags.
  gitopsd = pkg "gitopsd-0.1.0" // {
    nodejs = pkg "nodejs-of-gitopsd";
    inherit ((lib.importJSON ../../../package.json).gitopsd) daemonNodeFlags;
  };
  # A package without that passthru (an older gitopsd, or one built another way).
  gitopsd-plain = pkg "gitopsd-0.0.9";
  nodejs = pkg "nodejs";
  git = pkg "git";
  jujutsu = pkg "jujutsu";
  chezmoi = pkg "chezmoi";
  openssh = pkg "openssh";
  getent = pkg "getent";
  coreutils = pkg "coreutils";
  util-linux = pkg "util-linux";
  findutils = pkg "findutils";
  gnugrep = pkg "gnugrep";
  gnused = pkg "gnused";
  nh = pkg "nh";
  nix = pkg "nix";
  systemd = pkg "systemd";
  curl = pkg "curl";
}
