// Relays LiveKit DataPackets between participants of a room: the sender is stamped by the
// server (clients cannot spoof it) and `destination_identities` is honoured.
import { livekit } from '../../proto/index.js';

export interface DataRecipient {
  readonly identity: string;
  sendData(reliable: boolean, buf: Uint8Array): void;
}

export type RelayResult = 'relayed' | 'malformed' | 'not-allowed';

export function relayDataPacket(
  sender: { sid: string; identity: string; canPublishData: boolean },
  label: string,
  raw: Uint8Array,
  recipients: Iterable<DataRecipient>,
): RelayResult {
  if (!sender.canPublishData) return 'not-allowed';
  let pkt: livekit.DataPacket;
  try {
    pkt = livekit.DataPacket.decode(raw);
  } catch {
    return 'malformed';
  }
  pkt.participantIdentity = sender.identity;
  pkt.participantSid = sender.sid;
  let destinations = pkt.destinationIdentities;
  if (pkt.user) {
    pkt.user.participantIdentity = sender.identity;
    pkt.user.participantSid = sender.sid;
    if (destinations.length === 0) destinations = pkt.user.destinationIdentities ?? [];
  }
  const reliable = label !== '_lossy' && pkt.kind !== livekit.DataPacket.Kind.LOSSY;
  const out = livekit.DataPacket.encode(pkt).finish();
  for (const r of recipients) {
    if (r.identity === sender.identity) continue;
    if (destinations.length > 0 && !destinations.includes(r.identity)) continue;
    r.sendData(reliable, out);
  }
  return 'relayed';
}
