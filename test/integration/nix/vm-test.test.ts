/**
 * The VM test (nix/tests/vm-rollback.nix) as far as it evaluates here
 * (issue 12, defect 4). It cannot run here: no KVM and no full nixpkgs
 * (docs/nixos.md "What is tested where"). eval-vm.nix evaluates, with
 * shared/nixpkgs-eval (GITOPSD_NIXPKGS):
 * - the test with stand-in pkgs: the node's imports, the Python test script,
 *   and the flake.nix it deploys inside the VM;
 * - nix/tests/vm-machine.nix, shared by the node and the deployed systems;
 * - nix/tests/vm-host.nix with nix/module.nix on nixpkgs' real module system.
 * Not evaluated: nixpkgs' qemu-vm.nix, test-instrumentation.nix and
 * nixos/lib/testing/nixos-test-base.nix (not in the fixture), and so no
 * whole node or deployed system.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/exec.js';
import { nixpkgsDir } from '../../harness/nixpkgs.js';
import { removeTempDirs } from '../../harness/temp.js';
import { repoRoot, runCli } from '../../helpers/cli.js';
import { verifyUnits, type RenderedUnit } from './systemd-units.js';

afterAll(removeTempDirs);

interface EvaluatedVm {
  test: {
    name: string;
    testScript: string;
    nodeImports: string[];
    includeBuildDependencies: boolean;
    flakeNix: string;
  };
  machine: { virtualisation: Record<string, unknown>; system: { switch: { enable: boolean } } };
  host: { failedAssertions: string[]; warnings: string[]; units: Record<string, RenderedUnit>; configFile: string };
}

let vm: EvaluatedVm;

beforeAll(async () => {
  const r = await run('nix-instantiate', [
    '--eval',
    '--strict',
    '--json',
    '--read-write-mode',
    join(repoRoot, 'test/integration/nix/eval-vm.nix'),
    '--argstr',
    'nixpkgs',
    nixpkgsDir(),
  ]);
  vm = JSON.parse(r.stdout) as EvaluatedVm;
});

describe('nix/tests/vm-rollback.nix, as far as it evaluates without a full nixpkgs', () => {
  it('the store persists across reboots: every writable store layer is on the disk image, for the node and the deployed systems', () => {
    expect(vm.machine.virtualisation).toMatchObject({
      useBootLoader: true,
      useEFIBoot: true,
      writableStore: true,
      writableStoreUseTmpfs: false,
    });
    expect(vm.machine.system.switch.enable).toBe(true);
    expect(vm.test.nodeImports).toContain(join(repoRoot, 'nix/tests/vm-machine.nix'));
    expect(vm.test.includeBuildDependencies).toBe(true);
  });

  it('the flake deployed inside the VM is a bootable test VM configuration (the test base, the same machine)', async () => {
    const text = readFileSync(vm.test.flakeNix, 'utf8');
    await run('nix-instantiate', ['--parse', vm.test.flakeNix]);
    const modules = [...text.matchAll(/"\$\{(nixpkgs|gitopsd)\}\/([^"]+)"/g)].map((m) => `${m[1]}/${m[2]}`);
    expect(modules).toEqual([
      'nixpkgs/nixos/lib/testing/nixos-test-base.nix',
      'gitopsd/nix/tests/vm-machine.nix',
      'gitopsd/nix/module.nix',
      'gitopsd/nix/package.nix',
      'gitopsd/nix/tests/vm-host.nix',
    ]);
    // Every gitopsd file the deployed flake imports is in the repository
    // (the VM gets it as the flake's source).
    for (const m of modules.filter((x) => x.startsWith('gitopsd/'))) {
      expect(existsSync(join(repoRoot, m.replace(/^gitopsd\//, ''))), m).toBe(true);
    }
    expect(text).not.toMatch(/hardware-configuration/);
  });

  it("the test script is valid Python (the driver's language)", async () => {
    expect(vm.test.name).toBe('gitopsd-vm-rollback');
    await run('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: vm.test.testScript });
    expect(vm.test.testScript).toMatch(/machine\.shutdown\(\)\n\s+machine\.start\(\)/);
  });

  it("the VM host's units pass systemd-analyze verify, and its config passes gitopsd config check", async () => {
    expect(vm.host.failedAssertions).toEqual([]);
    expect(vm.host.warnings).toEqual([]);
    expect(Object.keys(vm.host.units).sort()).toEqual([
      'boot-complete.target',
      'demo.service',
      'gitopsd-boot-validate.service',
      'gitopsd-upgrade.service',
      'gitopsd.timer',
    ]);
    expect(await verifyUnits(vm.host.units)).toEqual({ exitCode: 0, output: '' });
    const r = await runCli(['config', 'check', '--config', vm.host.configFile]);
    expect({ exitCode: r.exitCode, stderr: r.stderr }).toEqual({ exitCode: 0, stderr: '' });
  });
});
