// Relays LiveKit DataPackets between participants of a room: the sender is stamped by the
// server (clients cannot spoof it) and `destination_identities` is honoured.
import { livekit } from '../../proto/index.js';

export interface DataRecipient {
  readonly identity: string;
  sendData(reliable: boolean, buf: Uint8Array): void;
}

export type RelayResult = 'relayed' | 'malformed' | 'not-allowed';

/**
 * Relays a client's packet to `recipients`; `onRelayed` gets the stamped packet too, for the
 * room's participants on other workers (see deliverRelayed).
 */
export function relayDataPacket(
  sender: { sid: string; identity: string; canPublishData: boolean },
  label: string,
  raw: Uint8Array,
  recipients: Iterable<DataRecipient>,
  onRelayed?: (reliable: boolean, packet: Uint8Array) => void,
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
  if (pkt.user) {
    pkt.user.participantIdentity = sender.identity;
    pkt.user.participantSid = sender.sid;
  }
  const reliable = label !== '_lossy' && pkt.kind !== livekit.DataPacket.Kind.LOSSY;
  const out = livekit.DataPacket.encode(pkt).finish();
  deliver(out, reliable, sender.identity, destinationsOf(pkt), recipients);
  onRelayed?.(reliable, out);
  return 'relayed';
}

/** Who a packet is for (empty: everyone); the legacy UserPacket field counts too. */
function destinationsOf(pkt: livekit.DataPacket): string[] {
  return pkt.destinationIdentities.length > 0 ? pkt.destinationIdentities : pkt.user?.destinationIdentities ?? [];
}

function deliver(out: Uint8Array, reliable: boolean, senderIdentity: string, destinations: string[], recipients: Iterable<DataRecipient>): void {
  for (const r of recipients) {
    if (r.identity === senderIdentity) continue;
    if (destinations.length > 0 && !destinations.includes(r.identity)) continue;
    r.sendData(reliable, out);
  }
}

/** A packet another worker relayed (already stamped there) to this worker's participants. */
export function deliverRelayed(packet: Uint8Array, reliable: boolean, recipients: Iterable<DataRecipient>): void {
  let pkt: livekit.DataPacket;
  try {
    pkt = livekit.DataPacket.decode(packet);
  } catch {
    return;
  }
  deliver(packet, reliable, pkt.participantIdentity, destinationsOf(pkt), recipients);
}
