/**
 * An allowed-signers file (ssh-keygen(1) "ALLOWED SIGNERS") that the fleet
 * commands check signatures against, read once, and what is wrong with it
 * said by where its path came from:
 *
 * - from an option (`--allowed-signers F`): the command line is wrong, a
 *   usage error (exit 64, with the --help to read), as any other option
 *   naming something that does not exist (`--store-path`, `--signing-key`);
 * - from a config key (`fleet.allowedSignersFile`, ...): the config is
 *   wrong (exit 78).
 *
 * An unusable file is one that cannot be read, or that has no line with a
 * public key (empty, truncated, the wrong file): checked against it, every
 * signature would be "not from an allowed signer", which is not what it
 * means (review 11, review 12).
 */
import { readFileSync } from 'node:fs';
import { GitopsdError } from '../core/errors.js';

/** Where the path came from: the option as typed (`--allowed-signers`), or the config key. */
export type SignersSource = { option: string } | { key: string };

/**
 * Pure: how many lines of an allowed-signers file hold a public key
 * (ssh-keygen(1) "ALLOWED SIGNERS": principals, options, key type, base64
 * key, comment). Comments and blank lines do not count; a line ssh-keygen
 * cannot parse is skipped by it, and is not counted here either.
 */
export function signerKeyLines(text: string): number {
  const key =
    /(?:^|\s)(?:ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)\s+[A-Za-z0-9+/]+={0,2}(?:\s|$)/;
  return text.split('\n').filter((l) => {
    const t = l.trim();
    return t !== '' && !t.startsWith('#') && key.test(t);
  }).length;
}

const FORMAT = 'ssh-keygen(1) "ALLOWED SIGNERS": <principal> namespaces="git" ssh-ed25519 AAAA…';

/**
 * The text of the allowed-signers file `file`, or a one-line error: a
 * usage error when the path came from an option, a config error when it
 * came from the config. `alsoOption` is the option a config error names as
 * the other way to give a file ("fix fleet.allowedSignersFile or
 * --allowed-signers").
 */
export function readSignersFile(file: string, source: SignersSource, alsoOption?: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw 'option' in source
      ? new GitopsdError(
          'usage',
          `${source.option} ${file} cannot be read (${code}); pass the path of a readable allowed-signers file (${FORMAT})`,
          { cause: err },
        )
      : new GitopsdError(
          'config',
          `the allowed signers file ${file} cannot be read (${code}); fix ${source.key}${alsoOption === undefined ? '' : ` or ${alsoOption}`}`,
          { cause: err },
        );
  }
  if (signerKeyLines(text) === 0) {
    throw 'option' in source
      ? new GitopsdError(
          'usage',
          `${source.option} ${file} has no line with a public key (${FORMAT}); pass the allowed-signers file the hosts use`,
        )
      : new GitopsdError(
          'config',
          `the allowed signers file ${file} has no line with a public key (${FORMAT}); fix ${source.key}${alsoOption === undefined ? '' : ` or ${alsoOption}`}`,
        );
  }
  return text;
}
