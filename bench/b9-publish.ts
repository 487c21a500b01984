/**
 * B9: 1,000 hosts publish their status to one bare repository, 50 at a time
 * (issue 15, "At 1,000 hosts"). gitopsd side: 1,000 minimal host configs,
 * each `gitopsd fleet publish --force --config …`. Baseline, same run: plain
 * git doing the same work (bench/fleet-scale.ts plainPublisher). One round
 * per side, plain first: the first publish (each host's own repository
 * created, the remote's ref new). With GITOPSD_BENCH_REPUBLISH=1, a second
 * round per side in the order gitopsd, plain (so a drift of the load weighs
 * on both): a re-publish, the lease from the last push. It is off by
 * default because at 1,000 hosts a gitopsd round takes about 10 minutes on
 * the shared 2 cores. Afterwards every ref of both remotes is checked: it
 * exists, it is the commit its publisher reported, parentless, and its
 * status.json parses and names its own host. Targets: ratio <= 1.5,
 * 0 errors, no publish lost or corrupted. GITOPSD_BENCH_HOSTS and
 * GITOPSD_BENCH_CONCURRENCY change the scale.
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
  plainRemote: string;
  hosts: ScaleHost[];
  rounds: {
    plain1: RoundResult;
    /** `node -e 0` per host, same concurrency: the floor of any node publisher. */
    nodeFloor: RoundResult;
    gitopsd1: RoundResult;
    gitopsd2: RoundResult | null;
    plain2: RoundResult | null;
  };
  loads: string[];
  checks: { gitopsd: RefCheck; plain: RefCheck };
}

/** The whole of B9's work, without the printing (also run at small scale by its test). */
export async function publishFleet(dir: string, n: number, concurrency: number, republish: boolean): Promise<B9Fleet> {
  const gitopsdRemote = await createBareRemote(join(dir, 'gitopsd-status.git'));
  const plainRemote = await createBareRemote(join(dir, 'plain-status.git'));
  const hosts = await writeHostConfigs(join(dir, 'hosts'), n, gitopsdRemote);
  const template = await templateStatus(dir);
  const leases = new Map<string, string>();
  const plain = plainPublisher({ dir: join(dir, 'plain-hosts'), remote: plainRemote, template, leases });
  const loads = [`before: ${load()}`];
  const plain1 = await round(hosts, concurrency, plain);
  loads.push(`after plain round 1: ${load()}`);
  const nodeFloor = await round(hosts, concurrency, nodeOnly);
  loads.push(`after the node -e 0 round: ${load()}`);
  const gitopsd1 = await round(hosts, concurrency, (h) => gitopsdPublish(h));
  loads.push(`after gitopsd round 1: ${load()}`);
  let gitopsd2: RoundResult | null = null;
  let plain2: RoundResult | null = null;
  if (republish) {
    gitopsd2 = await round(hosts, concurrency, (h) => gitopsdPublish(h));
    loads.push(`after gitopsd round 2: ${load()}`);
    plain2 = await round(hosts, concurrency, plain);
    loads.push(`after plain round 2: ${load()}`);
  }
  const last = (r: RoundResult): Map<string, string | null> =>
    new Map(r.results.map((x) => [x.host, x.ok ? x.commit : null]));
  const checks = {
    gitopsd: await checkStatusRefs(gitopsdRemote, last(gitopsd2 ?? gitopsd1)),
    plain: await checkStatusRefs(plainRemote, last(plain2 ?? plain1)),
  };
  return {
    gitopsdRemote,
    plainRemote,
    hosts,
    rounds: { plain1, nodeFloor, gitopsd1, gitopsd2, plain2 },
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
    const { plain1, nodeFloor, gitopsd1, gitopsd2, plain2 } = f.rounds;
    const ratios = [gitopsd1.wallMs / plain1.wallMs];
    const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
    const parts = [
      table(
        `B9 first publish of ${n} hosts, ${c} at a time (wall time of the round)`,
        wall('plain git: init, hash-object, mktree, commit-tree, push --force-with-lease', plain1),
        [
          wall('node -e 0 (no publish: the floor of any publisher written for node)', nodeFloor),
          wall('gitopsd fleet publish --force', gitopsd1),
        ],
        'ratio <= 1.5',
      ),
      '',
    ];
    const perHostRows = [perHost('plain git, first publish', plain1), perHost('gitopsd, first publish', gitopsd1)];
    const cpuLines = [
      `CPU time (user + sys) of all processes of a round (children of the runner, /proc/self/stat cutime + cstime), first publish: plain ${s(plain1.cpuMs)}, gitopsd ${s(gitopsd1.cpuMs)} (ratio ${(gitopsd1.cpuMs / plain1.cpuMs).toFixed(2)}); per publish: plain ${(plain1.cpuMs / n).toFixed(0)} ms, gitopsd ${(gitopsd1.cpuMs / n).toFixed(0)} ms`,
      `node -e 0 alone, per host, same concurrency: ${s(nodeFloor.cpuMs)} CPU (ratio ${(nodeFloor.cpuMs / plain1.cpuMs).toFixed(2)} of plain git's whole publish), ${s(nodeFloor.wallMs)} wall (ratio ${(nodeFloor.wallMs / plain1.wallMs).toFixed(2)})`,
    ];
    if (gitopsd2 !== null && plain2 !== null) {
      ratios.push(gitopsd2.wallMs / plain2.wallMs);
      parts.push(
        table(
          `B9 re-publish of ${n} hosts, ${c} at a time (wall time of the round)`,
          wall('plain git: hash-object, mktree, commit-tree, push --force-with-lease', plain2),
          [wall('gitopsd fleet publish --force', gitopsd2)],
          'ratio <= 1.5',
        ),
        '',
      );
      perHostRows.push(perHost('plain git, re-publish', plain2), perHost('gitopsd, re-publish', gitopsd2));
      cpuLines.push(
        `CPU time, re-publish: plain ${s(plain2.cpuMs)}, gitopsd ${s(gitopsd2.cpuMs)} (ratio ${(gitopsd2.cpuMs / plain2.cpuMs).toFixed(2)}); per publish: plain ${(plain2.cpuMs / n).toFixed(0)} ms, gitopsd ${(gitopsd2.cpuMs / n).toFixed(0)} ms`,
      );
    }
    parts.push(table(`B9 one publish's wall time, per host (under ${c}-way concurrency)`, null, perHostRows));
    const all = [plain1, nodeFloor, gitopsd1, gitopsd2, plain2].filter((r): r is RoundResult => r !== null);
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
      `errors: plain ${plain1.errors.length}${plain2 === null ? '' : ` + ${plain2.errors.length}`}, gitopsd ${gitopsd1.errors.length}${gitopsd2 === null ? '' : ` + ${gitopsd2.errors.length}`}`,
      ...errorLines('plain round 1', plain1),
      ...errorLines('gitopsd round 1', gitopsd1),
      ...(gitopsd2 === null ? [] : errorLines('gitopsd round 2', gitopsd2)),
      ...(plain2 === null ? [] : errorLines('plain round 2', plain2)),
      checkLine(`gitopsd remote after its last round`, f.checks.gitopsd),
      ...f.checks.gitopsd.problems.slice(0, 5).map((p) => `- ${p}`),
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
    const lost = f.checks.gitopsd.problems.length + f.checks.plain.problems.length;
    return {
      id: this.id,
      title: this.title,
      markdown: [...parts, '', ...notes].join('\n'),
      verdicts: [
        `B9 ratio ${ratios.map((r) => r.toFixed(2)).join(' (first publish), ')}${ratios.length > 1 ? ' (re-publish)' : ' (first publish)'} (target <= 1.5): ${ratios.every((r) => r <= 1.5) ? 'met' : 'NOT met'}`,
        `B9 errors ${errors} (target 0): ${errors === 0 ? 'met' : 'NOT met'}`,
        `B9 no publish lost or corrupted (${f.checks.gitopsd.good}/${n} gitopsd refs, ${f.checks.plain.good}/${n} plain refs checked good): ${lost === 0 && f.checks.gitopsd.good === n && f.checks.plain.good === n ? 'met' : 'NOT met'}`,
      ],
    };
  },
};
