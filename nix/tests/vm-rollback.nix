# NixOS VM test: gitopsd upgrades from a local bare nix-config repository,
# a broken commit fails two boots, and the host rolls back to the golden
# generation.
#
#   nix build .#checks.x86_64-linux.vm-rollback -L
#
# NOT RUN on the development machines of this project: they have no KVM,
# no nixpkgs and no network. It is written for a real NixOS CI; expect to
# adjust details on its first run there (docs/nixos.md "What is tested
# where"). The offline tests evaluate the module with nixpkgs' real module
# system and verify its units with systemd-analyze instead
# (test/integration/nix/module.test.ts), and evaluate this file as far as
# the nixpkgs fixture allows (test/integration/nix/vm-test.test.ts).
#
# How the VM builds offline: the node has `system.includeBuildDependencies`,
# so everything needed to build a variation of its own system is in its
# store, and the nix-config flake it deploys takes nixpkgs from the same
# store path (input `path:<pkgs.path>`) and gitopsd's module and package from
# this repository's source (input `path:<self>`, also in the VM store).
{ pkgs, self }:
let
  system = pkgs.stdenv.hostPlatform.system;
  src = self.outPath;

  # The nix-config flake deployed inside the VM: a bootable test VM
  # configuration. nixos-test-base.nix is what the test framework gives every
  # node (qemu-vm.nix, test-instrumentation.nix, no manual, a constant
  # revision), vm-machine.nix the same virtualisation settings as the node,
  # then gitopsd's module and vm-host.nix with the commit's parameters. So
  # each generation gitopsd builds boots in the driver's qemu machine, mounts
  # the same file systems, and runs the backdoor shell the driver talks to.
  flakeNix = pkgs.writeText "flake.nix" ''
    {
      inputs.nixpkgs.url = "path:${pkgs.path}";
      inputs.gitopsd = { url = "path:${src}"; flake = false; };
      outputs = { nixpkgs, gitopsd, ... }: {
        nixosConfigurations.machine = nixpkgs.lib.nixosSystem {
          system = "${system}";
          modules = [
            "''${nixpkgs}/nixos/lib/testing/nixos-test-base.nix"
            "''${gitopsd}/nix/tests/vm-machine.nix"
            "''${gitopsd}/nix/module.nix"
            ({ pkgs, ... }: { services.gitopsd.package = pkgs.callPackage "''${gitopsd}/nix/package.nix" { }; })
            (import "''${gitopsd}/nix/tests/vm-host.nix" (import ./commit.nix))
          ];
        };
      };
    }
  '';
in
pkgs.testers.runNixOSTest {
  name = "gitopsd-vm-rollback";

  nodes.machine =
    { ... }:
    {
      imports = [
        self.nixosModules.default
        ./vm-machine.nix
        (import ./vm-host.nix { })
      ];
      system.includeBuildDependencies = true;
      system.extraDependencies = [
        pkgs.path
        src
      ];
      environment.systemPackages = [ pkgs.git ];
    };

  testScript = ''
    import json

    def gitopsd_json(*args):
        return json.loads(machine.succeed("gitopsd " + " ".join(args) + " --json"))

    def commit(version, broken):
        machine.succeed(
            "cd /srv/work"
            f" && printf '{{ version = \"{version}\"; demoBroken = {str(broken).lower()}; }}\\n' > commit.nix"
            " && git add -A"
            f" && git commit -qm 'host: {version} (demo broken: {broken})'"
            " && git push -q origin HEAD:main"
        )

    def reboot():
        machine.shutdown()
        machine.start()
        machine.wait_for_unit("multi-user.target")
        machine.wait_until_succeeds("systemctl show -P ActiveState gitopsd-boot-validate.service | grep -Eq 'active|failed'")

    machine.start()
    machine.wait_for_unit("multi-user.target")

    with subtest("the first boot validates and pins the running system as golden"):
        machine.wait_for_unit("gitopsd-boot-validate.service")
        machine.succeed("systemctl is-active boot-complete.target")
        first = machine.succeed("readlink -f /run/booted-system").strip()
        assert gitopsd_json("golden", "show")["storePath"] == first

    with subtest("serve nix-config from a local bare repository"):
        machine.succeed(
            "git config --global user.name test && git config --global user.email test@example.invalid"
            " && git config --global init.defaultBranch main"
            " && git init -q --bare /srv/nix-config.git"
            " && mkdir -p /srv/work && cd /srv/work && git init -q"
            " && cp ${flakeNix} flake.nix"
            " && git remote add origin /srv/nix-config.git"
        )
        commit("v2", False)

    with subtest("the upgrade deploys v2"):
        machine.succeed("systemctl start gitopsd-upgrade.service")
        machine.succeed("grep -qx v2 /etc/demo-version")
        machine.succeed("systemctl is-active demo.service")

    with subtest("a reboot into v2 validates it and makes it the golden"):
        reboot()
        machine.succeed("systemctl is-active boot-complete.target")
        golden = machine.succeed("readlink -f /run/booted-system").strip()
        assert golden != first
        assert gitopsd_json("golden", "show")["storePath"] == golden

    with subtest("v3 breaks demo.service; deployed for the next boot"):
        commit("v3", True)
        machine.succeed("gitopsd upgrade --operation boot")
        bad = machine.succeed("readlink -f /nix/var/nix/profiles/system").strip()
        assert bad != golden

    with subtest("two failed boots roll back to the golden"):
        reboot()
        machine.fail("systemctl is-active demo.service")
        machine.fail("systemctl is-active boot-complete.target")
        reboot()
        # The second failure reaches maxBootFailures: the golden becomes the
        # profile and the boot default.
        machine.wait_until_succeeds(f"test \"$(readlink -f /nix/var/nix/profiles/system)\" = {golden}")
        reboot()
        assert machine.succeed("readlink -f /run/booted-system").strip() == golden
        machine.succeed("grep -qx v2 /etc/demo-version")
        machine.succeed("systemctl is-active demo.service")
        machine.succeed("systemctl is-active boot-complete.target")
        status = gitopsd_json("boot", "status")
        print(json.dumps(status, indent=2))
  '';
}
