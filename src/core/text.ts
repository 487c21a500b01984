/**
 * Small wording helpers for the text people read.
 *
 * `counted(n, noun)`: "1 attempt", "2 attempts", "0 failures". The plural
 * category comes from the runtime's CLDR data (Intl.PluralRules, locale
 * "en": "one" for exactly 1, "other" for everything else); a noun whose
 * plural is not noun + "s" passes it as `plural`.
 */
const EN = new Intl.PluralRules('en');

export function counted(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${EN.select(n) === 'one' ? noun : plural}`;
}
