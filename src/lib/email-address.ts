/** Emails are compared case-insensitively and stored trimmed and lower-cased. */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

export const MAX_EMAIL_LENGTH = 254;

// Deliberately plain: one @, no spaces or control characters, a dot in the domain.
const EMAIL_PATTERN = /^[^\s@\u0000-\u001f]+@[^\s@\u0000-\u001f]+\.[^\s@\u0000-\u001f]+$/u;

export const isValidEmail = (email: string): boolean => {
  const trimmed = email.trim();
  // The limit applies to what is stored: lower-casing can lengthen a string ('İ' → 'i̇').
  return normalizeEmail(email).length <= MAX_EMAIL_LENGTH && EMAIL_PATTERN.test(trimmed);
};
