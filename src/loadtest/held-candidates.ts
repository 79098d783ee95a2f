// An offerer's ICE candidates, held back until the answer is applied.
//
// Why: libdatachannel's setRemoteDescription hands the answer to its ICE agent before it
// records the description (and the DTLS fingerprint in it). A server that already has the
// offer's candidates checks at once; on loopback ICE and the DTLS handshake can finish inside
// that gap, and the fingerprint check then finds no remote description: "certificate verify
// failed", and the connection fails. A busy CPU makes the gap long enough (2 runs in 6 of the
// cross-worker test with both cores loaded). Strand's own subscriber offer holds its
// candidates back for the same reason (subscriber-peer.ts).

export interface HeldOffer {
  /** The offer without candidate lines. */
  sdp: string;
  /** Its candidates, as trickled ("candidate:…"). */
  candidates: string[];
  /** The first section's mid (the bundle's transport, which every candidate belongs to). */
  mid: string;
}

export function holdCandidates(sdp: string): HeldOffer {
  const candidates: string[] = [];
  const kept: string[] = [];
  let mid = '';
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('a=candidate:')) candidates.push(line.slice(2).trim());
    else if (!line.startsWith('a=end-of-candidates')) kept.push(line);
    if (mid === '' && line.startsWith('a=mid:')) mid = line.slice(6).trim();
  }
  return { sdp: kept.join('\r\n'), candidates, mid };
}
