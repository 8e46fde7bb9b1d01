// Text a person typed that others will read: what it may not hold, and how to show it safely.

/**
 * Characters no single-line text a person types (a name, a job title, a search) has a use
 * for, and which let stored text pose as something else where it is shown: C0 controls
 * (CR/LF/TAB start new lines or columns in an email or a log), DEL, C1 controls (U+0085 is a
 * line break too), the Unicode line and paragraph separators, and the bidirectional
 * embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), which reorder how the
 * text after them is displayed. The directional marks U+200E/U+200F stay allowed: they only
 * set the direction of a neutral character, reorder nothing around them, and occur in real
 * names mixing right-to-left and left-to-right scripts.
 */
export const CONTROL_OR_BIDI_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
export const hasControlOrBidiCharacters = (value: string): boolean => CONTROL_OR_BIDI_CHARACTERS.test(value);

const CONTROL_OR_BIDI_RUNS = new RegExp(`(?:${CONTROL_OR_BIDI_CHARACTERS.source}|\\s)+`, 'gu');

/** One line, whatever it held: each run of control, bidi-override or white-space characters becomes one space. */
export const singleLine = (value: string): string => value.replace(CONTROL_OR_BIDI_RUNS, ' ').trim();
