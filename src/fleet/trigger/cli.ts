/**
 * `gitopsd trigger --fleet`: sign and push the fleet-wide trigger
 * (docs/rollout.md "Fleet-wide: a signed trigger ref"). The work is in
 * ./index.ts (effects) and ./decide.ts (the document).
 *
 * Exit codes: 0 pushed; 64 no --signing-key, a malformed --expires or
 * --host, an --allowed-signers file that cannot be read or holds no key
 * (78 when the config named it); 6 the hosts would ignore the trigger (its signature does not
 * verify against the trigger signers file): nothing pushed; 1 the key
 * cannot sign; 75 the remote cannot be written.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import ms from 'ms';
import type { Handler } from '../../core/outcome.js';
import { UsageError } from '../../core/errors.js';
import { resolveNixConfigRemote } from '../remote.js';
import { readSignersFile } from '../signers-file.js';
import { planTrigger } from './decide.js';
import { writeTrigger } from './index.js';

/** `--expires` as seconds: a number of seconds, or an `ms` duration (30m, 1h, 12h). */
export function parseExpires(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string' || v.trim() === '') return Number.NaN;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  const m = ms(v.trim() as ms.StringValue);
  return typeof m === 'number' ? m / 1000 : Number.NaN;
}

export const fleetTriggerCommand: Handler = async (deps, args) => {
  const timeoutMs = deps.config.timeouts.gitSec * 1000;
  const key = args['signing-key'];
  if (typeof key !== 'string' || key === '') {
    throw new UsageError(
      `no signing key: pass --signing-key PATH, a private SSH key whose public key is in the hosts' trigger signers file (daemon.triggerSignersFile, else nixConfig.allowedSignersFile)`,
    );
  }
  if (!existsSync(key)) throw new UsageError(`--signing-key ${key} does not exist; pass the private key's path`);
  const hostsArg = args['host'];
  const hosts = (Array.isArray(hostsArg) ? hostsArg : hostsArg === undefined ? [] : [hostsArg]).map(String);
  const expiresArg = typeof args['expires'] === 'string' ? args['expires'] : '1h';
  const expiresSec = parseExpires(expiresArg);
  const who = deps.env['SUDO_USER'] ?? deps.env['USER'] ?? 'gitopsd';
  const plan = planTrigger({
    nonce: randomBytes(16).toString('hex'),
    issuer: `${who}@${deps.config.hostname}`,
    now: deps.clock.now(),
    expiresSec,
    hosts,
    reason: typeof args['reason'] === 'string' ? args['reason'] : '',
  });
  // The value given goes with the --expires message only: a bad --host said "(got --expires 1h)" (review 12).
  if (!plan.ok)
    throw new UsageError(plan.message.startsWith('--expires') ? `${plan.message}; got ${expiresArg}` : plan.message);
  const signersArg = args['allowed-signers'];
  const { triggerSignersFile } = deps.config.daemon;
  const signers =
    typeof signersArg === 'string' && signersArg !== ''
      ? signersArg
      : (triggerSignersFile ?? deps.config.nixConfig.allowedSignersFile);
  // A file that cannot be read (or holds no key) is the option's fault (64)
  // or the config's (78), before anything is signed or fetched: git checked
  // against it and refused every key, "the key is not in <file>" (exit 6).
  if (signers !== null) {
    readSignersFile(
      signers,
      signers === signersArg
        ? { option: '--allowed-signers' }
        : { key: triggerSignersFile !== null ? 'daemon.triggerSignersFile' : 'nixConfig.allowedSignersFile' },
      '--allowed-signers',
    );
  }
  const remoteArg = args['remote'];
  const remote = await resolveNixConfigRemote(deps, timeoutMs, typeof remoteArg === 'string' ? remoteArg : undefined);
  const w = await writeTrigger(deps, {
    remote,
    doc: plan.doc,
    signingKey: key,
    allowedSignersFile: signers,
    timeoutMs,
  });
  const scope = plan.doc.hosts.length === 0 ? 'every host' : plan.doc.hosts.join(', ');
  const checked =
    w.signer === null
      ? 'signature not checked: no trigger signers file here (daemon.triggerSignersFile, nixConfig.allowedSignersFile or --allowed-signers)'
      : `signed by ${w.signer}`;
  return {
    exitCode: 0,
    text: `triggered ${scope} until ${plan.doc.expiresAt}: ${w.ref} ${w.commit.slice(0, 12)} at ${remote} (nonce ${plan.doc.nonce}, ${checked}); ${w.signer === null ? 'it counts only on hosts whose trigger signers file (daemon.triggerSignersFile, else nixConfig.allowedSignersFile) lists this key (a host with neither ignores every fleet trigger); there, ' : ''}hosts in poll mode (daemon.pollIntervalSec) upgrade at their next poll, through the usual signature, known-bad and rollout checks`,
    json: { ok: true, ref: w.ref, commit: w.commit, remote, signer: w.signer, trigger: plan.doc },
  };
};
