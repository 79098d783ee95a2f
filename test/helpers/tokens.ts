import { AccessToken, type VideoGrant } from 'livekit-server-sdk';

export const DEV_KEY = 'devkey';
export const DEV_SECRET = 'secret';

export async function joinToken(room: string, identity: string, grant: Partial<VideoGrant> = {}, ttl: string | number = '1h'): Promise<string> {
  const at = new AccessToken(DEV_KEY, DEV_SECRET, { identity, ttl });
  at.addGrant({ roomJoin: true, room, ...grant });
  return at.toJwt();
}
