/**
 * Pure: text another party wrote (a status document, the dotfiles user's
 * sync state or file names) as it may reach a terminal. Every control
 * character (C0, DEL, C1) and every bidirectional override or isolate is
 * shown as an escape (`\u001b`, `\n`): raw, an ESC sequence could clear
 * the screen, rewrite or recolour rows, set the window title or the
 * clipboard (OSC 52), a CR or LF could draw a fake row, and a bidi override
 * could reorder a line (review 11 for the fleet's status documents; review
 * 16 for the sync state that root's `status` and `sync status` print and
 * the text log).
 */
const SHORT_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function printable(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex -- the control characters are the point
    /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (ch) => SHORT_ESCAPES[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
