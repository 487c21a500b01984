/**
 * The chezmoi config (chezmoi.toml) of the test hosts that sync often.
 *
 * chezmoi (2.53 and later) scans every file that `add` or `re-add` takes
 * for secrets (gitleaks' rules; config `add.secrets`, default "warning":
 * a warning on stderr, and the file is taken all the same). In the test
 * bed (chezmoi 2.73.3, load average 8) a `chezmoi re-add` of a changed file
 * took 0.9-1.6 s with the scan and 0.2-0.4 s without; at low load the
 * re-add of a sync took 0.7 s of its 6.2 s. Every sync that captures an edit
 * runs one. gitopsd never reads those warnings, and the test files hold no
 * secrets, so the scan changes nothing a test checks: "ignore" turns it off.
 *
 * The text must not contain the word that names chezmoi's git auto
 * settings, nor a backslash: with either, the sync reads the config with
 * `chezmoi dump-config` first (src/sync/chezmoi.ts, cannotSetAutoGit), one
 * more command and one more checkpoint than with an empty config.
 * Tests of the person's own config (limits, encrypted, privilege) write
 * theirs, and the demo and the benchmarks keep chezmoi's defaults.
 */
export const CHEZMOI_TEST_TOML = '[add]\nsecrets = "ignore"\n';
