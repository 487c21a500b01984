# The VM itself: what both the test node (vm-rollback.nix) and every system
# gitopsd deploys inside the VM must agree on, so that each generation boots
# in the same qemu machine the test driver started.
#
# - The test node gets qemu-vm.nix and the test instrumentation from the test
#   framework (nixos/lib/testing/nixos-test-base.nix); the flake deployed
#   inside the VM imports that same file, so the deployed systems have the
#   same file systems, the same boot loader setup and the backdoor shell the
#   driver talks to after each reboot.
# - Store persistence: with useBootLoader the store lives on the VM's disk
#   image, and with a host store mount it would be an overlay whose upper
#   layer is, by default, a tmpfs (qemu-vm.nix, writableStoreUseTmpfs
#   defaults to true): the systems built inside the VM would be gone after
#   `machine.shutdown(); machine.start()`. writableStoreUseTmpfs = false puts
#   every writable store layer on the disk image, which survives reboots.
{ ... }:
{
  virtualisation = {
    useBootLoader = true;
    useEFIBoot = true;
    memorySize = 3072;
    cores = 2;
    diskSize = 8192;
    writableStore = true;
    writableStoreUseTmpfs = false;
  };
  # gitopsd activates new systems: switch-to-configuration must be there
  # (nixos-test-base.nix leaves it out of test nodes by default).
  system.switch.enable = true;
}
