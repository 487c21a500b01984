# nix/module.nix evaluated with nixpkgs' real module system (lib.evalModules)
# and the real systemd unit types and rendering of nixos/lib, from a nixpkgs
# checkout (`nixpkgs`: test/harness/nixpkgs.ts; shared/nixpkgs-eval by
# default). Prints what a NixOS system would get, as JSON:
#
#   nix-instantiate --eval --strict --json --read-write-mode \
#     test/integration/nix/eval-module.nix \
#     --argstr nixpkgs <dir> --argstr host '<json>'
#
# `host` is the JSON of { gitopsd = <services.gitopsd>; users = <users.users>; }.
# `gitopsd.extraPackages` is a list of names, each made a stand-in package;
# `gitopsd.package`, one name, the package.
# The modules: nixos/modules/standins.nix of the checkout (the NixOS option
# declarations the module touches outside systemd, and nixpkgs' mapping of
# systemd.services/timers/targets to systemd.units), nix/module.nix, and the
# host's definitions. Packages are stand-ins (standin-pkgs.nix).
{ nixpkgs, host }:
let
  root = /. + nixpkgs;
  lib = import (root + "/lib");
  # The fixture's NixOS option declarations (shared/nixpkgs-eval README); a
  # full nixpkgs checkout has the real modules instead, which this file does
  # not load yet.
  standins =
    let
      f = root + "/nixos/modules/standins.nix";
    in
    if builtins.pathExists f then
      f
    else
      throw "${nixpkgs} has no nixos/modules/standins.nix: the module tests need shared/nixpkgs-eval (a full nixpkgs checkout is not supported by ${baseNameOf __curPos.file} yet); point GITOPSD_NIXPKGS at shared/nixpkgs-eval";
  pkgs = import ./standin-pkgs.nix { inherit lib; };
  input = builtins.fromJSON host;
  gitopsd =
    input.gitopsd
    // lib.optionalAttrs (input.gitopsd ? extraPackages) {
      extraPackages = map (n: pkgs.${n} or (throw "eval-module.nix: no stand-in package ${n}")) input.gitopsd.extraPackages;
    }
    # `gitopsd.package`: the name of a stand-in package.
    // lib.optionalAttrs (input.gitopsd ? package) {
      package = pkgs.${input.gitopsd.package} or (throw "eval-module.nix: no stand-in package ${input.gitopsd.package}");
    };

  eval = lib.evalModules {
    class = "nixos";
    modules = [
      (
        { config, ... }:
        {
          _module.args = {
            inherit pkgs;
            utils = import (root + "/nixos/lib/utils.nix") { inherit lib config pkgs; };
          };
        }
      )
      standins
      {
        # Declarations the shared stand-ins lack, as nixpkgs declares them:
        # nixos/modules/security/polkit.nix (enable: bool, extraConfig:
        # lines) and nixos/modules/config/users-groups.nix (users.groups:
        # attrsOf submodule with name, gid, members).
        options.security.polkit = {
          enable = lib.mkOption { type = lib.types.bool; default = false; };
          extraConfig = lib.mkOption { type = lib.types.lines; default = ""; };
        };
        options.users.groups = lib.mkOption {
          default = { };
          type = lib.types.attrsOf (
            lib.types.submodule (
              { name, ... }:
              {
                options = {
                  name = lib.mkOption { type = lib.types.str; default = name; };
                  gid = lib.mkOption { type = lib.types.nullOr lib.types.int; default = null; };
                  members = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
                };
              }
            )
          );
        };
      }
      ../../../nix/module.nix
      {
        # What the flake's nixosModules.default does.
        services.gitopsd.package = lib.mkDefault pkgs.gitopsd;
      }
      {
        _file = "host configuration (test/integration/nix/nix.test.ts)";
        services.gitopsd = gitopsd;
        users.users = input.users or { };
      }
    ];
  };
  inherit (eval) config;
  etc = config.environment.etc;
  checked = etc."gitopsd/config.json".source or null;
in
{
  inherit (config.services.gitopsd) settings;
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
  inherit (config) warnings;
  polkit = { inherit (config.security.polkit) enable extraConfig; };
  groups = builtins.attrNames config.users.groups;
  # The units, with what nixpkgs' generateUnits (nixos/lib/systemd-lib.nix)
  # needs to install them: the file text, the .wants/.requires links, and
  # whether an upstream unit of that name is extended by a drop-in.
  units = lib.mapAttrs (_: u: {
    inherit (u)
      text
      wantedBy
      requiredBy
      overrideStrategy
      ;
  }) (lib.filterAttrs (_: u: u.enable) config.systemd.units);
  tmpfiles = config.systemd.tmpfiles.rules;
  systemPackages = map toString config.environment.systemPackages;
  etc = lib.mapAttrs (_: e: toString e.source) etc;
  # The text of /etc/gitopsd/fleet-allowed-signers (a writeText stand-in keeps it).
  fleetAllowedSigners = etc."gitopsd/fleet-allowed-signers".source.text or null;
  # The build-time check: the derivation /etc/gitopsd/config.json points at.
  configCheck =
    if checked == null then
      null
    else
      {
        inherit (checked) name buildCommand;
        nativeBuildInputs = map toString checked.nativeBuildInputs;
      };
}
