{
  description = "gitopsd: pull-based GitOps for NixOS hosts (build-validated upgrades, golden-generation rollback, jj+chezmoi dotfile sync)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      # gitopsd manages NixOS hosts; the dev shell also works on macOS.
      linux = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      all = linux ++ [
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forSystems = systems: f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forSystems linux (pkgs: {
        default = pkgs.callPackage ./nix/package.nix { };
        gitopsd = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
      });

      overlays.default = final: _prev: {
        gitopsd = final.callPackage ./nix/package.nix { };
      };

      # The module, with its package defaulting to this flake's build.
      nixosModules.default =
        { lib, pkgs, ... }:
        {
          imports = [ ./nix/module.nix ];
          services.gitopsd.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };

      # Everything the test suite drives, for running the tests directly
      # (scripts/testbed uses the tools on PATH when they are new enough).
      devShells = forSystems all (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.nodejs
            pkgs.jujutsu
            pkgs.chezmoi
            pkgs.git
            pkgs.nh
            pkgs.nix
            pkgs.openssh
          ];
        };
      });

      checks = forSystems linux (pkgs: {
        package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        vm-rollback = import ./nix/tests/vm-rollback.nix { inherit pkgs self; };
      });

      formatter = forSystems all (pkgs: pkgs.nixfmt-rfc-style);
    };
}
