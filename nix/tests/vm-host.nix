# The host the VM test runs: gitopsd enabled with two validated services
# (sshd and a small "demo" service). Shared by the test node
# (vm-rollback.nix) and by the nix-config flake that gitopsd deploys inside
# the VM, so every generation keeps gitopsd and the same validation.
#
# `demoBroken = true` is the "bad commit": demo.service exits 1 at start.
{
  demoBroken ? false,
  version ? "v1",
}:
{ lib, pkgs, ... }:
{
  networking.hostName = "machine";

  boot.loader.systemd-boot.enable = true;
  boot.loader.efi.canTouchEfiVariables = true;

  services.openssh.enable = true;

  systemd.services.demo = {
    description = "demo service validated by gitopsd (${version})";
    wantedBy = [ "multi-user.target" ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      ExecStart = if demoBroken then "${pkgs.coreutils}/bin/false" else "${pkgs.coreutils}/bin/true";
    };
  };
  environment.etc."demo-version".text = version;

  services.gitopsd = {
    enable = true;
    settings = {
      nixConfig = {
        path = "/etc/nixos-config";
        url = "/srv/nix-config.git";
        flakeHost = "machine";
      };
      validation = {
        services = [
          "sshd.service"
          "demo.service"
        ];
        timeoutSec = 60;
        maxBootFailures = 2;
        # The test reboots by hand; gitopsd only counts.
        onFirstFailure = "wait";
      };
      reboot.allow = false;
      # The test starts the units by hand.
      schedule.cron = "0 4 1 1 *";
    };
  };

  nix.settings = {
    experimental-features = [
      "nix-command"
      "flakes"
    ];
    substituters = lib.mkForce [ ];
  };
}
