import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** LiveKit-style ids: a prefix and 12 random base62 characters (RM_, PA_, TR_, EV_, …). */
export function newId(prefix: 'RM_' | 'PA_' | 'TR_' | 'EV_' | 'ND_'): string {
  const bytes = randomBytes(12);
  let s = prefix;
  for (const b of bytes) s += ALPHABET[b % ALPHABET.length];
  return s;
}
