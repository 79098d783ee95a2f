import { randomBytes } from 'node:crypto';

/** LiveKit's id alphabet (utils/guid): base57, no 0/1/I/O/l. */
const ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** LiveKit-style ids: a prefix and 12 random base57 characters (RM_, PA_, TR_, EV_, EG_, …). */
export function newId(prefix: 'RM_' | 'PA_' | 'TR_' | 'EV_' | 'ND_' | 'EG_' | 'IN_'): string {
  let s = prefix;
  while (s.length < prefix.length + 12) {
    // Bytes of 228 and up are skipped: 228 = 4 × 57, so every character is equally likely.
    for (const b of randomBytes(16)) if (b < 228 && s.length < prefix.length + 12) s += ALPHABET[b % 57];
  }
  return s;
}
