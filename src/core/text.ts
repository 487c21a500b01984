/**
 * Small wording helpers for the text people read.
 *
 * `counted(n, noun)`: "1 attempt", "2 attempts", "0 failures". The plural
 * category comes from the runtime's CLDR data (Intl.PluralRules, locale
 * "en": "one" for exactly 1, "other" for everything else); a noun whose
 * plural is not noun + "s" passes it as `plural`.
 */
let en: Intl.PluralRules | undefined;

export function counted(n: number, noun: string, plural = `${noun}s`): string {
  // Built on first use, not when the module loads: constructing a
  // PluralRules starts ICU, 2-3 ms on every start of a command that never
  // counts anything (`status --json`; issue 19, "no Intl on the hot path").
  en ??= new Intl.PluralRules('en');
  return `${n} ${en.select(n) === 'one' ? noun : plural}`;
}
