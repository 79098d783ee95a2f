// What a WHIP client's offer sends, read before it is answered: one track per sending audio or
// video section (its msid track id as the cid the publisher path matches sections by, its
// simulcast rids), so that the tracks can be announced as AddTrack would have.
export interface OfferedTrack {
  kind: 'audio' | 'video';
  /** The msid track id, or the mid when the section has no msid. */
  cid: string;
  mid: string;
  rids: string[];
  stereo: boolean;
}

/** Largest offer read (a real one is a few kB). */
const MAX_OFFER_BYTES = 64 * 1024;

export function offeredTracks(sdp: string): OfferedTrack[] {
  if (sdp.length > MAX_OFFER_BYTES) return [];
  const tracks: OfferedTrack[] = [];
  const sections = sdp.split(/\r?\nm=/).slice(1);
  for (const section of sections) {
    const lines = section.split(/\r?\n/);
    const kind = lines[0]!.split(' ')[0];
    if (kind !== 'audio' && kind !== 'video') continue;
    const attr = (name: string) => lines.filter((l) => l.startsWith(`a=${name}`)).map((l) => l.slice(name.length + 2));
    const direction = lines.find((l) => /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(l))?.slice(2) ?? 'sendrecv';
    if (direction !== 'sendrecv' && direction !== 'sendonly') continue;
    if (/^\S+ 0 /.test(lines[0]!)) continue; // port 0: rejected section
    const mid = attr('mid:')[0]?.trim() ?? '';
    const msid = attr('msid:')[0]?.trim().split(/\s+/);
    const rids = attr('rid:').map((r) => r.split(/\s+/)).filter((r) => r[1] === 'send').map((r) => r[0]!);
    const stereo = attr('fmtp:').some((f) => /stereo=1/.test(f));
    tracks.push({ kind, cid: msid?.[1] ?? mid, mid, rids, stereo });
  }
  return tracks;
}
