// A participant's session across the loss of its signal connection: kept while it is away,
// picked up again by a resume (reconnect=1), and checked against the client's SyncState.
// RoomManager decides when (grace period, unknown sessions); this is what happens.
import type { livekit } from '../../proto/index.js';
import { AwaySink, type Participant, type SignalSink } from './participant.js';
import type { Room, RoomContext } from './room.js';

/**
 * The signal connection is gone: the participant stays in the room, its tracks flowing and
 * its subscriptions bound; its media worker holds the reliable data sent to it meanwhile.
 */
export async function keepWhileAway(ctx: RoomContext, p: Participant): Promise<void> {
  p.sink = new AwaySink();
  await ctx.pool.run(p.slot, { op: 'signalLost', participantSid: p.sid });
}

/**
 * A resume: `sink` is the participant's new signal connection. ReconnectResponse comes first,
 * then who left meanwhile, everyone's current state and the room; on v0 the subscriber offer
 * again. Returns false when the participant's connections are gone (the caller asks for a
 * full reconnect).
 */
export async function resumeSession(ctx: RoomContext, room: Room, p: Participant, sink: SignalSink): Promise<boolean> {
  const previous = p.sink;
  p.sink = sink;
  // A resume while the old socket is still open (the client restarting a failed connection):
  // the old one is closed; its session no longer speaks for the participant.
  if (!(previous instanceof AwaySink)) previous.close(1000, 'resumed on a new connection');
  const { lastMessageSeq, subscriberOffer, usable } = await ctx.pool.run(p.slot, { op: 'resume', participantSid: p.sid });
  if (!usable || p.closed) return false;
  p.send({ reconnect: { iceServers: ctx.iceServers, serverInfo: ctx.serverInfo, lastMessageSeq } });
  const departed = previous instanceof AwaySink ? [...previous.departed.values()] : [];
  if (departed.length > 0) p.send({ update: { participants: departed } });
  const visible = [...room.participants.values()].filter((o) => o === p || !o.hidden).map((o) => o.toInfo());
  p.send({ update: { participants: visible } });
  p.send({ roomUpdate: { room: room.toProto() } });
  if (subscriberOffer) p.send({ offer: { type: 'offer', sdp: subscriberOffer } });
  return true;
}

/**
 * SyncState after a resume, as LiveKit's onSyncState: every track the client says it
 * publishes must exist here (otherwise: false, full reconnect); disabled tracks and the
 * client's subscription choices are applied.
 */
export async function applySyncState(room: Room, p: Participant, state: livekit.ISyncState): Promise<boolean> {
  for (const published of state.publishTracks ?? []) {
    const sid = published.track?.sid ?? '';
    const known = p.tracks.has(sid) || [...p.pending.values()].some((e) => e.info.sid === sid);
    if (!known) return false;
  }
  const disabled = state.trackSidsDisabled ?? [];
  if (disabled.length > 0) await room.trackSettings(p, { trackSids: disabled, disabled: true });
  const sub = state.subscription;
  if (sub) {
    const sids = [...(sub.trackSids ?? []), ...(sub.participantTracks ?? []).flatMap((pt) => pt.trackSids ?? [])];
    for (const sid of sids) {
      if (sub.subscribe) await room.subscribe(p, sid, true);
      else await room.unsubscribe(p, sid);
    }
  }
  return true;
}
