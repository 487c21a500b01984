/**
 * The `-c key=value` settings every git process started by the runner gets
 * (src/core/runner.ts prepends them; issue 11, docs/security.md).
 *
 * Why: gitopsd runs git as root inside the nix-config checkout. Config given
 * with `-c` is read last (git-config(1) "SCOPES": the command scope wins over
 * system, global, local and worktree files), so these values override
 * anything a repository's own `.git/config` says. Each entry below names a
 * setting that would otherwise let repo-local config make root run a
 * program, or make git read content other than what was verified.
 *
 * Checked against git-config(1) of git 2.55 and git's gpg-interface.c; the
 * same keys are what simple-git's argv-parser classes as unsafe
 * (@simple-git/argv-parser: core.fsmonitor, core.hooksPath, core.sshCommand,
 * core.askPass, credential.helper, gpg.program, protocol.allow).
 *
 * Deliberately NOT here (see docs/security.md, "git as root"):
 * - safe.directory: only honoured from protected config; gitopsd adds none,
 *   so git keeps refusing a checkout owned by another user unless the admin
 *   lists it.
 * - core.pager, core.editor, sequence.editor, diff.external: gitopsd's git
 *   commands never page (stdout is a pipe), never open an editor (`commit
 *   -m`, non-interactive rebase) and never produce a patch.
 * - core.gitProxy: only used by the git:// protocol, which is refused below.
 * - uploadpack.packObjectsHook: git honours it only from protected config.
 * - filter/merge drivers: their names come from attributes, so they cannot be
 *   overridden by name; they need write access to `.git`, which only root may
 *   have (docs/security.md).
 */

/** [key, value, why]; the order is the order on the command line. */
export const GIT_HARDENING: readonly (readonly [key: string, value: string, why: string])[] = [
  // A path here is a hook program git runs on status, add, reset, checkout.
  ['core.fsmonitor', 'false', 'no fsmonitor hook program from repo-local config'],
  // Covers $GIT_DIR/hooks too (post-checkout, reference-transaction,
  // post-commit, post-rewrite, pre-push...): no hook runs at all.
  ['core.hooksPath', '/dev/null', 'no hooks, neither $GIT_DIR/hooks nor a repo-local hooks path'],
  // The ssh program for ssh:// remotes. GIT_SSH_COMMAND in the service
  // environment still overrides it (documented git behaviour).
  ['core.sshCommand', 'ssh', 'no ssh replacement program from repo-local config'],
  // Run for https password prompts even with GIT_TERMINAL_PROMPT=0. An
  // empty value means "none" (git's prompt.c skips an empty askpass).
  ['core.askPass', '', 'no askpass program from repo-local config'],
  // An empty helper resets the list, including url-specific helpers read
  // earlier (gitcredentials(7)); https credentials go in GIT_ASKPASS of the
  // service or in root's ssh config instead (docs/upgrade.md).
  ['credential.helper', '', 'no credential helper program from repo-local config'],
  // Protocols: a default of never, then explicit policies. An explicit
  // protocol.<name>.allow in repo-local config beats protocol.allow, so the
  // dangerous names get an explicit never here too. ext:: runs a command;
  // git:// and http:// are unauthenticated, so the network could answer.
  ['protocol.allow', 'never', 'only the transports listed next'],
  ['protocol.file.allow', 'always', 'local paths and file:// remotes'],
  ['protocol.ssh.allow', 'always', 'ssh:// and scp-like remotes'],
  ['protocol.https.allow', 'always', 'https:// remotes'],
  ['protocol.http.allow', 'never', 'plain http: the network could rewrite the answer'],
  ['protocol.git.allow', 'never', 'git://: unauthenticated, and core.gitProxy runs a program'],
  ['protocol.ext.allow', 'never', 'ext:: runs an arbitrary command'],
  // Signatures: only SSH signatures are accepted (docs/upgrade.md). A
  // commit's signature picks git's verification backend; with these, an
  // OpenPGP or X.509 signature runs `false` and never verifies, and a
  // repo-local gpg.ssh.program cannot replace ssh-keygen.
  ['gpg.program', 'false', 'no OpenPGP verification (legacy name of gpg.openpgp.program)'],
  ['gpg.openpgp.program', 'false', 'no OpenPGP verification'],
  ['gpg.x509.program', 'false', 'no X.509 (gpgsm) verification'],
  ['gpg.ssh.program', 'ssh-keygen', 'SSH signatures are checked by ssh-keygen from PATH, nothing else'],
  // Run to find a signing key when gitopsd's own commit is signed (a
  // commit.gpgsign from any config) and user.signingkey is unset.
  ['gpg.ssh.defaultKeyCommand', 'false', 'no key-lookup program from repo-local config; set user.signingkey'],
  // An allowed signer gets trust "fully"; a repo-local lower minimum would
  // only matter for other backends, but it must not be the repo's to set.
  ['gpg.minTrustLevel', 'fully', 'a signature must come from an allowed signer'],
  // refs/replace/* would let git show another object's content under the id
  // that was verified (git-replace(1)).
  ['core.useReplaceRefs', 'false', 'the verified commit is the content git checks out'],
];

/** The settings as git arguments: `-c key=value` pairs, to go before the subcommand. */
export function gitHardeningArgs(): string[] {
  return GIT_HARDENING.flatMap(([key, value]) => ['-c', `${key}=${value}`]);
}

/** The settings as `key=value` strings (simple-git's `config` option). */
export function gitHardeningConfig(): string[] {
  return GIT_HARDENING.map(([key, value]) => `${key}=${value}`);
}

/** Whether `cmd` (a name or a path) is git itself. */
export function isGit(cmd: string): boolean {
  return cmd === 'git' || cmd.endsWith('/git');
}
