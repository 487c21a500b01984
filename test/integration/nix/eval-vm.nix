# The VM test (nix/tests/vm-rollback.nix) as far as it evaluates without a
# full nixpkgs (docs/nixos.md "What is tested where"). Prints JSON:
#
#   nix-instantiate --eval --strict --json --read-write-mode \
#     test/integration/nix/eval-vm.nix --argstr nixpkgs <dir>
#
# - test: vm-rollback.nix called with stand-in pkgs, where
#   testers.runNixOSTest returns its argument: the test's name, its Python
#   test script, the node's imports, and the flake.nix it deploys inside the
#   VM (written to the store with builtins.toFile, so the caller can parse it).
# - machine: nix/tests/vm-machine.nix, the settings node and deployed
#   systems share.
# - host: nix/tests/vm-host.nix (the VM's gitopsd settings and its demo
#   service) with nix/module.nix on nixpkgs' real module system, as
#   eval-module.nix does; the options vm-host.nix sets outside the fixture
#   (boot loader, openssh, hostName, nix.settings) are declared here with
#   type `anything`: their values are not checked by this evaluation.
{ nixpkgs }:
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
  standin = import ./standin-pkgs.nix { inherit lib; };
  # Store-path-shaped strings without context: toFile accepts them.
  fakeStorePath = name: "/nix/store/00000000000000000000000000000000-${name}";
  pkgs = standin // {
    path = fakeStorePath "nixpkgs";
    stdenv.hostPlatform.system = "x86_64-linux";
    testers.runNixOSTest = test: test;
    writeText = name: text: builtins.toFile name text;
  };
  self = {
    outPath = fakeStorePath "gitopsd-source";
    nixosModules.default = "<gitopsd flake's nixosModules.default>";
  };
  test = import ../../../nix/tests/vm-rollback.nix { inherit pkgs self; };
  node = test.nodes.machine { };

  sinks =
    let
      any = lib.mkOption { type = lib.types.anything; };
    in
    {
      options = {
        boot.loader = any;
        services.openssh = any;
        networking.hostName = lib.mkOption { type = lib.types.str; };
        nix.settings = any;
        # Set by the module's trigger (services.gitopsd.trigger.group): the
        # polkit rule and the group. Declared for real in eval-module.nix,
        # where the test reads them; here they are only sunk.
        security.polkit = any;
        users.groups = any;
      };
    };
  host = lib.evalModules {
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
      sinks
      ../../../nix/module.nix
      { services.gitopsd.package = standin.gitopsd; }
      (import ../../../nix/tests/vm-host.nix { })
    ];
  };
  checked = host.config.environment.etc."gitopsd/config.json".source;
in
{
  test = {
    inherit (test) name testScript;
    nodeImports = map (i: if builtins.isPath i then toString i else if builtins.isString i then i else "<module>") node.imports;
    inherit (node.system) includeBuildDependencies;
    flakeNix = builtins.head (builtins.match ".* && cp (/nix/store/[^ ]+-flake\\.nix) flake\\.nix.*" test.testScript);
  };
  machine = import ../../../nix/tests/vm-machine.nix { };
  host = {
    failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) host.config.assertions);
    inherit (host.config) warnings;
    units = lib.mapAttrs (_: u: {
      inherit (u)
        text
        wantedBy
        requiredBy
        overrideStrategy
        ;
    }) (lib.filterAttrs (_: u: u.enable) host.config.systemd.units);
    configFile = builtins.head (builtins.match ".*--config (/nix/store/[^ ]+-gitopsd-config\\.json).*" checked.buildCommand);
  };
}
