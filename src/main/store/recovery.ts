// What a start does with the state an earlier run left behind (after a clean stop or a crash):
// rooms made with CreateRoom come back with their metadata and settings; participants who were
// connected are gone, and their webhooks (track_unpublished, participant_left) go out; rooms
// made by joins, now empty, finish.
import { livekit } from '../../proto/index.js';
import type { Logger } from '../logger.js';
import type { RoomManager } from '../rooms/room-manager.js';
import type { WebhookEvents } from '../webhook/webhook-events.js';
import type { Store, StoredRoom } from './store.js';

function roomProto(r: StoredRoom): livekit.IRoom {
  return {
    sid: r.sid, name: r.name, metadata: r.metadata, emptyTimeout: r.emptyTimeout, departureTimeout: r.departureTimeout,
    maxParticipants: r.maxParticipants, creationTime: Math.floor(r.creationTimeMs / 1000), creationTimeMs: r.creationTimeMs,
  };
}

export function recoverState(store: Store, rooms: RoomManager, webhooks: WebhookEvents, log: Logger): void {
  const stored = new Map(store.rooms().map((r) => [r.name, r]));
  let gone = 0;
  for (const sp of store.participants()) {
    let info: livekit.ParticipantInfo;
    try {
      info = livekit.ParticipantInfo.decode(sp.info);
    } catch (err) {
      log.warn({ err, room: sp.roomName, identity: sp.identity }, 'unreadable stored participant dropped');
      store.deleteParticipant(sp.roomName, sp.identity);
      continue;
    }
    const room = stored.get(sp.roomName);
    const proto = room ? roomProto(room) : { name: sp.roomName };
    info.state = livekit.ParticipantInfo.State.DISCONNECTED;
    for (const track of info.tracks) webhooks.unpublished(proto, info, track);
    webhooks.gone(proto, info, sp.wasActive);
    store.deleteParticipant(sp.roomName, sp.identity);
    gone++;
  }
  let restored = 0;
  for (const r of stored.values()) {
    if (r.createdByApi) {
      rooms.adopt(r);
      restored++;
    } else {
      webhooks.finished(roomProto(r), livekit.RoomEndReason.ROOM_END_SERVER_SHUTDOWN);
      store.deleteRoom(r.name);
    }
  }
  if (gone > 0 || stored.size > 0) log.info({ restoredRooms: restored, finishedRooms: stored.size - restored, participantsGone: gone }, 'state recovered from the store');
}
