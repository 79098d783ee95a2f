import { randomBytes } from 'node:crypto';

/** LiveKit's id alphabet (utils/guid): base57, no 0/1/I/O/l. */
const ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** `n` random base57 characters, each equally likely (bytes of 228 = 4 × 57 and up are skipped). */
export function randomBase57(n: number): string {
  let s = '';
  while (s.length < n) for (const b of randomBytes(16)) if (b < 228 && s.length < n) s += ALPHABET[b % 57];
  return s;
}

/** LiveKit-style ids: a prefix and 12 random base57 characters (RM_, PA_, TR_, EV_, EG_, …). */
export function newId(prefix: 'RM_' | 'PA_' | 'TR_' | 'EV_' | 'ND_' | 'EG_' | 'IN_' | 'RT_' | 'WH_' | 'UR_'): string {
  return prefix + randomBase57(12);
}
