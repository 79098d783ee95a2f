// Relays LiveKit DataPackets between participants of a room: the sender is stamped by the
// server (clients cannot spoof it) and `destination_identities` is honoured. Reliable packets
// keep the sender's `sequence`: after a resume the client replays what it is not sure arrived,
// and what did arrive (sequence at or below the highest seen) is dropped here.
import { livekit } from '../../proto/index.js';

export interface DataRecipient {
  readonly identity: string;
  sendData(reliable: boolean, buf: Uint8Array): void;
}

export type RelayResult = 'relayed' | 'malformed' | 'not-allowed' | 'duplicate';

/** The sending participant, as the relay needs it. */
export interface DataSender {
  readonly sid: string;
  readonly identity: string;
  readonly canPublishData: boolean;
  /** Highest reliable `sequence` relayed from this sender (ReconnectResponse.last_message_seq). */
  lastReliableSeq: number;
}

/**
 * Relays a client's packet to `recipients`; `onRelayed` gets the stamped packet too, for the
 * room's participants on other workers (see deliverRelayed).
 */
export function relayDataPacket(
  sender: DataSender,
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
  if (reliable && pkt.sequence > 0) {
    if (pkt.sequence <= sender.lastReliableSeq) return 'duplicate';
    sender.lastReliableSeq = pkt.sequence;
  }
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
