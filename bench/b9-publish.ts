/**
 * B9: 1,000 hosts publish their status to one bare repository, 50 at a time
 * (issue 15, "At 1,000 hosts"). Baseline, same run: plain git doing the same
 * work (bench/fleet-scale.ts plainPublisher: init, hash-object, mktree,
 * commit-tree, push with a lease; 5 git processes started from this process
 * with execa). Then, each to a remote and host set of its own:
 *
 * - the publish step (stepPublisher): what every run's after-run does, the
 *   status report and publishStatus, called in this process, as the plain
 *   publisher's git commands are started from it. This is the publish the
 *   target is about; its CPU is this process's plus its children's, counted
 *   the same way for the plain round.
 * - `node -e 0` per host: the floor of any publisher that starts a node
 *   process per publish.
 * - `gitopsd fleet publish --force --config …` per host: the standalone
 *   command a heartbeat timer runs, a node process each (start-up, config,
 *   the same step). Its ratio is printed too, next to the floor's.
 *
 * All first publishes (each host's own repository created, the remote's ref
 * new). With GITOPSD_BENCH_REPUBLISH=1, a second round of the CLI and plain
 * sides in the order gitopsd, plain (so a drift of the load weighs on both):
 * a re-publish, the lease from the last push. Afterwards every ref of every
 * remote is checked: it exists, it is the commit its publisher reported,
 * parentless, and its status.json parses and names its own host. Targets:
 * ratio <= 1.5, 0 errors, no publish lost or corrupted. GITOPSD_BENCH_HOSTS
 * and GITOPSD_BENCH_CONCURRENCY change the scale.
 */
import { join } from 'node:path';
import { stats, table, type Stats } from './lib.js';
import { countByProgram, describeCommand, readTrace, type Benchmark } from './common.js';
import {
  checkStatusRefs,
  createBareRemote,
  gitopsdPublish,
  nodeOnly,
  plainPublisher,
  round,
  stepPublisher,
  templateStatus,
  writeHostConfigs,
  type RefCheck,
  type RoundResult,
  type ScaleHost,
} from './fleet-scale.js';
import { loadavg } from 'node:os';

const envInt = (name: string, def: number): number => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : def;
};

const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(', ');

const wall = (name: string, r: RoundResult): Stats => stats({ name, runs: [r.wallMs] });
const perHost = (name: string, r: RoundResult): Stats => stats({ name, runs: r.results.map((x) => x.ms) });

export interface B9Fleet {
  gitopsdRemote: string;
  stepRemote: string;
  plainRemote: string;
  hosts: ScaleHost[];
  rounds: {
    plain1: RoundResult;
    /** The publish step in this process (what a run's after-run does), hosts and remote of its own. */
    step1: RoundResult;
    /** `node -e 0` per host, same concurrency: the floor of any node publisher. */
    nodeFloor: RoundResult;
    gitopsd1: RoundResult;
    gitopsd2: RoundResult | null;
    plain2: RoundResult | null;
  };
  loads: string[];
  checks: { gitopsd: RefCheck; step: RefCheck; plain: RefCheck };
}

/** The whole of B9's work, without the printing (also run at small scale by its test). */
export async function publishFleet(dir: string, n: number, concurrency: number, republish: boolean): Promise<B9Fleet> {
  const gitopsdRemote = await createBareRemote(join(dir, 'gitopsd-status.git'));
  const stepRemote = await createBareRemote(join(dir, 'step-status.git'));
  const plainRemote = await createBareRemote(join(dir, 'plain-status.git'));
  const hosts = await writeHostConfigs(join(dir, 'hosts'), n, gitopsdRemote);
  const stepHosts = await writeHostConfigs(join(dir, 'step-hosts'), n, stepRemote);
  const template = await templateStatus(dir);
  const leases = new Map<string, string>();
  const plain = plainPublisher({ dir: join(dir, 'plain-hosts'), remote: plainRemote, template, leases });
  const loads = [`before: ${load()}`];
  // Each round's figures as soon as it ends: at 1,000 hosts the four rounds
  // take 15 minutes or more, and a cut-off run still leaves what it measured.
  const done = (label: string, r: RoundResult): RoundResult => {
    loads.push(`after ${label}: ${load()}`);
    process.stdout.write(
      `B9 ${label}: ${(r.wallMs / 1000).toFixed(1)} s wall, ${(r.cpuMs / 1000).toFixed(1)} s CPU of child processes + ${(r.selfCpuMs / 1000).toFixed(1)} s own, ${r.errors.length} errors; load ${load()}\n`,
    );
    return r;
  };
  const plain1 = done('plain round 1', await round(hosts, concurrency, plain));
  const step1 = done('the publish step round', await round(stepHosts, concurrency, await stepPublisher(stepHosts)));
  const nodeFloor = done('the node -e 0 round', await round(hosts, concurrency, nodeOnly));
  const gitopsd1 = done('gitopsd round 1', await round(hosts, concurrency, (h) => gitopsdPublish(h)));
  let gitopsd2: RoundResult | null = null;
  let plain2: RoundResult | null = null;
  if (republish) {
    gitopsd2 = done('gitopsd round 2', await round(hosts, concurrency, (h) => gitopsdPublish(h)));
    plain2 = done('plain round 2', await round(hosts, concurrency, plain));
  }
  const last = (r: RoundResult): Map<string, string | null> =>
    new Map(r.results.map((x) => [x.host, x.ok ? x.commit : null]));
  const checks = {
    gitopsd: await checkStatusRefs(gitopsdRemote, last(gitopsd2 ?? gitopsd1)),
    step: await checkStatusRefs(stepRemote, last(step1)),
    plain: await checkStatusRefs(plainRemote, last(plain2 ?? plain1)),
  };
  return {
    gitopsdRemote,
    stepRemote,
    plainRemote,
    hosts,
    rounds: { plain1, step1, nodeFloor, gitopsd1, gitopsd2, plain2 },
    loads,
    checks,
  };
}

const errorLines = (label: string, r: RoundResult): string[] =>
  r.errors.slice(0, 5).map((e) => `- ${label}: ${e.host}: ${e.error ?? ''}`);

export const b9: Benchmark = {
  id: 'B9',
  title: 'fleet publish: 1,000 hosts, 50 at a time, to one bare status remote',
  async run(dir) {
    const n = envInt('GITOPSD_BENCH_HOSTS', 1000);
    const c = envInt('GITOPSD_BENCH_CONCURRENCY', 50);
    const republish = process.env['GITOPSD_BENCH_REPUBLISH'] === '1';
    const f = await publishFleet(dir, n, c, republish);
    const { plain1, step1, nodeFloor, gitopsd1, gitopsd2, plain2 } = f.rounds;
    const stepRatio = step1.wallMs / plain1.wallMs;
    const cliRatios = [gitopsd1.wallMs / plain1.wallMs];
    const floorRatio = (nodeFloor.wallMs + plain1.wallMs) / plain1.wallMs;
    const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
    const both = (r: RoundResult): number => r.cpuMs + r.selfCpuMs;
    const parts = [
      table(
        `B9 first publish of ${n} hosts, ${c} at a time (wall time of the round)`,
        wall('plain git: init, hash-object, mktree, commit-tree, push --force-with-lease', plain1),
        [
          wall("gitopsd's publish step (what a run's after-run does), in this process", step1),
          wall('node -e 0 per host (no publish: the floor of any publisher that starts node per publish)', nodeFloor),
          wall('gitopsd fleet publish --force (a node process per publish: the heartbeat timer)', gitopsd1),
        ],
        'ratio <= 1.5',
      ),
      '',
    ];
    const perHostRows = [
      perHost('plain git, first publish', plain1),
      perHost('gitopsd publish step, first publish', step1),
      perHost('gitopsd fleet publish, first publish', gitopsd1),
    ];
    const cpuLine = (label: string, r: RoundResult): string =>
      `${label}: ${s(both(r))} (children ${s(r.cpuMs)}, this process ${s(r.selfCpuMs)}), ${(both(r) / n).toFixed(0)} ms per publish, ratio ${(both(r) / both(plain1)).toFixed(2)}`;
    const cpuLines = [
      `CPU time (user + sys) of a round, first publish: the processes it started (/proc/self/stat cutime + cstime) plus this process's own (process.cpuUsage):`,
      `- ${cpuLine('plain git', plain1)}`,
      `- ${cpuLine("gitopsd's publish step", step1)}`,
      `- ${cpuLine('node -e 0 per host', nodeFloor)}`,
      `- ${cpuLine('gitopsd fleet publish', gitopsd1)}`,
      `the floor of a node process per publish, node -e 0 + plain git: wall ratio ${floorRatio.toFixed(2)}, CPU ratio ${((both(nodeFloor) + both(plain1)) / both(plain1)).toFixed(2)}`,
    ];
    if (gitopsd2 !== null && plain2 !== null) {
      cliRatios.push(gitopsd2.wallMs / plain2.wallMs);
      parts.push(
        table(
          `B9 re-publish of ${n} hosts, ${c} at a time (wall time of the round)`,
          wall('plain git: hash-object, mktree, commit-tree, push --force-with-lease', plain2),
          [wall('gitopsd fleet publish --force', gitopsd2)],
          'ratio <= 1.5',
        ),
        '',
      );
      perHostRows.push(
        perHost('plain git, re-publish', plain2),
        perHost('gitopsd fleet publish, re-publish', gitopsd2),
      );
      cpuLines.push(`- re-publish: ${cpuLine('plain git', plain2)}; ${cpuLine('gitopsd fleet publish', gitopsd2)}`);
    }
    parts.push(table(`B9 one publish's wall time, per host (under ${c}-way concurrency)`, null, perHostRows));
    const all = [plain1, step1, nodeFloor, gitopsd1, gitopsd2, plain2].filter((r): r is RoundResult => r !== null);
    const errors = all.reduce((a, r) => a + r.errors.length, 0);
    const checkLine = (label: string, k: RefCheck): string =>
      `${label}: ${k.refs} status refs at the remote; ${k.good} hold a parentless commit of one status.json that parses and names its own host, and are the commit their publisher reported; problems: ${k.problems.length}`;
    // One more publish, traced: where one publish's time goes.
    const trace = join(dir, 'trace.jsonl');
    const h = f.hosts[0];
    if (h === undefined) throw new Error('B9: no host');
    const traced = await gitopsdPublish(h, { GITOPSD_TRACE: trace });
    const cmds = await readTrace(trace);
    const inGit = cmds.reduce((a, x) => a + (x.durationMs ?? 0), 0);
    const notes = [
      ...cpuLines,
      '',
      `errors: plain ${plain1.errors.length}${plain2 === null ? '' : ` + ${plain2.errors.length}`}, publish step ${step1.errors.length}, gitopsd fleet publish ${gitopsd1.errors.length}${gitopsd2 === null ? '' : ` + ${gitopsd2.errors.length}`}`,
      ...errorLines('plain round 1', plain1),
      ...errorLines('publish step round', step1),
      ...errorLines('gitopsd round 1', gitopsd1),
      ...(gitopsd2 === null ? [] : errorLines('gitopsd round 2', gitopsd2)),
      ...(plain2 === null ? [] : errorLines('plain round 2', plain2)),
      checkLine(`gitopsd fleet publish's remote after its last round`, f.checks.gitopsd),
      ...f.checks.gitopsd.problems.slice(0, 5).map((p) => `- ${p}`),
      checkLine(`the publish step's remote`, f.checks.step),
      ...f.checks.step.problems.slice(0, 5).map((p) => `- ${p}`),
      checkLine(`plain remote after its last round`, f.checks.plain),
      ...f.checks.plain.problems.slice(0, 5).map((p) => `- ${p}`),
      '',
      `load average: ${f.loads.join('; ')}`,
      '',
      `one more publish of ${h.name}, traced (GITOPSD_TRACE), alone: ${traced.ms.toFixed(0)} ms wall, ${cmds.length} processes (${countByProgram(cmds)}), ${inGit} ms in them; the rest (${(traced.ms - inGit).toFixed(0)} ms) is node start-up, config, the status report and the state write:`,
      '',
      ...cmds.map(
        (x) => `    ${describeCommand({ ...x, args: x.args.filter((a, i, xs) => a !== '-c' && xs[i - 1] !== '-c') })}`,
      ),
    ];
    process.stdout.write(`${notes.join('\n')}\n\n`);
    const lost = f.checks.gitopsd.problems.length + f.checks.step.problems.length + f.checks.plain.problems.length;
    const allGood = [f.checks.gitopsd, f.checks.step, f.checks.plain].every((k) => k.good === n);
    return {
      id: this.id,
      title: this.title,
      markdown: [...parts, '', ...notes].join('\n'),
      verdicts: [
        `B9 ratio of the publish step (a run's after-run) to plain git ${stepRatio.toFixed(2)} (first publish; target <= 1.5): ${stepRatio <= 1.5 ? 'met' : 'NOT met'}`,
        `B9 ratio of gitopsd fleet publish (a node process each) to plain git ${cliRatios.map((r) => r.toFixed(2)).join(' (first publish), ')}${cliRatios.length > 1 ? ' (re-publish)' : ' (first publish)'}; floor of a node process per publish (node -e 0 + plain git): ${floorRatio.toFixed(2)} (target <= 1.5): ${cliRatios.every((r) => r <= 1.5) ? 'met' : 'NOT met'}`,
        `B9 errors ${errors} (target 0): ${errors === 0 ? 'met' : 'NOT met'}`,
        `B9 no publish lost or corrupted (${f.checks.gitopsd.good}/${n} fleet publish refs, ${f.checks.step.good}/${n} publish step refs, ${f.checks.plain.good}/${n} plain refs checked good): ${lost === 0 && allGood ? 'met' : 'NOT met'}`,
      ],
    };
  },
};
