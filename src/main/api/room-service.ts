// LiveKit's RoomService over Twirp: each method checks the grant LiveKit requires, validates its
// input against the configured limits, and acts on the room, whose clients see the change at once.
import { livekit } from '../../proto/index.js';
import { permissionsFromProto, type ClaimGrants } from '../auth/grants.js';
import type { StrandConfig } from '../config.js';
import type { EgressManager } from '../egress/egress-manager.js';
import { limitViolation, type LimitedFields } from '../rooms/limits.js';
import { mergedAttributes, type Participant } from '../rooms/participant.js';
import type { Room } from '../rooms/room.js';
import type { RoomManager } from '../rooms/room-manager.js';
import { method, TwirpError, type TwirpRouter } from './twirp.js';

/** Largest SendData payload: what fits in one SCTP message on the participants' data channels. */
export const MAX_SEND_DATA_BYTES = 64 * 1024 - 1024;

function requireGrant(claims: ClaimGrants, grant: 'roomCreate' | 'roomList'): void {
  if (!claims.video[grant]) throw new TwirpError('permission_denied', `the token lacks the ${grant} grant`);
}

function requireAdmin(claims: ClaimGrants, room: string): void {
  if (!claims.video.roomAdmin) throw new TwirpError('permission_denied', 'the token lacks the roomAdmin grant');
  if (!room || claims.video.room !== room) throw new TwirpError('permission_denied', `the token's roomAdmin grant is not for room "${room}"`);
}

/** Rooms of the whole cluster (src/main/cluster/cluster-state.ts). */
export interface RoomDirectory {
  listRooms(names: string[]): Promise<livekit.IRoom[]>;
}

/**
 * `directory` lists the cluster's rooms; null on a single node. Each method that acts on one
 * room names it (`room`), so that in a cluster it runs on that room's node.
 */
export function registerRoomService(router: TwirpRouter, rooms: RoomManager, cfg: StrandConfig, egress: EgressManager,
  directory: RoomDirectory | null): void {
  const checkLimits = (f: LimitedFields) => {
    const violation = limitViolation(cfg.limit, f);
    if (violation) throw new TwirpError('invalid_argument', violation);
  };
  const room = (name: string): Room => {
    const r = rooms.rooms.get(name);
    if (!r || r.closed) throw new TwirpError('not_found', `room "${name}" does not exist`);
    return r;
  };
  const participant = (roomName: string, identity: string): [Room, Participant] => {
    const r = room(roomName);
    const p = r.participantByIdentity(identity);
    if (!p || p.closed) throw new TwirpError('not_found', `participant "${identity}" is not in room "${roomName}"`);
    return [r, p];
  };

  router.register('livekit.RoomService', {
    CreateRoom: method({
      request: livekit.CreateRoomRequest,
      response: livekit.Room,
      room: (req) => req.name,
      place: true,
      node: (req) => req.nodeId,
      handle(req, claims) {
        requireGrant(claims, 'roomCreate');
        if (!req.name) throw new TwirpError('invalid_argument', 'name is required');
        checkLimits({ roomName: req.name, metadata: req.metadata });
        const room = rooms.createRoom(req.name, {
          emptyTimeout: req.emptyTimeout, departureTimeout: req.departureTimeout, maxParticipants: req.maxParticipants, metadata: req.metadata,
        });
        egress.setAutoEgress(room, req.egress);
        return room.toProto();
      },
    }),

    ListRooms: method({
      request: livekit.ListRoomsRequest,
      response: livekit.ListRoomsResponse,
      async handle(req, claims) {
        requireGrant(claims, 'roomList');
        if (directory) return { rooms: await directory.listRooms(req.names) };
        const names = new Set(req.names);
        const list = [...rooms.rooms.values()].filter((r) => !r.closed && (names.size === 0 || names.has(r.name)));
        return { rooms: list.map((r) => r.toProto()) };
      },
    }),

    DeleteRoom: method({
      request: livekit.DeleteRoomRequest,
      response: livekit.DeleteRoomResponse,
      room: (req) => req.room,
      async handle(req, claims) {
        requireGrant(claims, 'roomCreate');
        await rooms.closeRoom(room(req.room), livekit.DisconnectReason.ROOM_DELETED, livekit.RoomEndReason.ROOM_END_API_DELETE);
        return {};
      },
    }),

    ListParticipants: method({
      request: livekit.ListParticipantsRequest,
      response: livekit.ListParticipantsResponse,
      room: (req) => req.room,
      handle(req, claims) {
        requireAdmin(claims, req.room);
        return { participants: [...room(req.room).participants.values()].map((p) => p.toInfo()) };
      },
    }),

    GetParticipant: method({
      request: livekit.RoomParticipantIdentity,
      response: livekit.ParticipantInfo,
      room: (req) => req.room,
      handle(req, claims) {
        requireAdmin(claims, req.room);
        return participant(req.room, req.identity)[1].toInfo();
      },
    }),

    RemoveParticipant: method({
      request: livekit.RoomParticipantIdentity,
      response: livekit.RemoveParticipantResponse,
      room: (req) => req.room,
      async handle(req, claims) {
        requireAdmin(claims, req.room);
        const [r, p] = participant(req.room, req.identity);
        await rooms.removeParticipant(r, p, Number(req.revokeTokenTs));
        return {};
      },
    }),

    MutePublishedTrack: method({
      request: livekit.MuteRoomTrackRequest,
      response: livekit.MuteRoomTrackResponse,
      room: (req) => req.room,
      handle(req, claims) {
        requireAdmin(claims, req.room);
        const [r, p] = participant(req.room, req.identity);
        if (!req.muted && !cfg.room.enableRemoteUnmute) throw new TwirpError('failed_precondition', 'remote unmute is not enabled (room.enable_remote_unmute)');
        const track = r.mutePublishedTrack(p, req.trackSid, req.muted);
        if (!track) throw new TwirpError('not_found', `track "${req.trackSid}" is not published by "${req.identity}"`);
        return { track };
      },
    }),

    UpdateParticipant: method({
      request: livekit.UpdateParticipantRequest,
      response: livekit.ParticipantInfo,
      room: (req) => req.room,
      async handle(req, claims) {
        requireAdmin(claims, req.room);
        const [r, p] = participant(req.room, req.identity);
        checkLimits({ name: req.name, metadata: req.metadata, attributes: mergedAttributes(p.attributes, req.attributes) });
        await r.updateParticipant(p, {
          name: req.name, metadata: req.metadata, attributes: req.attributes,
          permission: req.permission ? permissionsFromProto(req.permission) : undefined,
        });
        return p.toInfo();
      },
    }),

    UpdateSubscriptions: method({
      request: livekit.UpdateSubscriptionsRequest,
      response: livekit.UpdateSubscriptionsResponse,
      room: (req) => req.room,
      async handle(req, claims) {
        requireAdmin(claims, req.room);
        const [r, p] = participant(req.room, req.identity);
        const sids = [...req.trackSids, ...req.participantTracks.flatMap((pt) => pt.trackSids ?? [])];
        for (const sid of sids) {
          if (req.subscribe) await r.subscribe(p, sid);
          else await r.unsubscribe(p, sid);
        }
        return {};
      },
    }),

    SendData: method({
      request: livekit.SendDataRequest,
      response: livekit.SendDataResponse,
      room: (req) => req.room,
      async handle(req, claims) {
        requireAdmin(claims, req.room);
        const r = room(req.room);
        if (req.data.length > MAX_SEND_DATA_BYTES) throw new TwirpError('invalid_argument', `data is larger than ${MAX_SEND_DATA_BYTES} bytes`);
        if (req.nonce.length !== 0 && req.nonce.length !== 16) throw new TwirpError('invalid_argument', 'nonce must be 16 bytes or empty');
        const identities = [...req.destinationIdentities];
        for (const sid of req.destinationSids) {
          const p = r.participantBySid(sid);
          if (p) identities.push(p.identity);
        }
        const packet = livekit.DataPacket.encode({
          kind: req.kind,
          destinationIdentities: identities,
          user: { payload: req.data, topic: req.topic ?? undefined, destinationIdentities: identities, nonce: req.nonce },
        }).finish();
        // Destinations were named but none is here: nothing to send, and not everyone.
        if (identities.length === 0 && (req.destinationSids.length > 0 || req.destinationIdentities.length > 0)) return {};
        await r.sendData(packet, req.kind !== livekit.DataPacket.Kind.LOSSY, identities);
        return {};
      },
    }),

    UpdateRoomMetadata: method({
      request: livekit.UpdateRoomMetadataRequest,
      response: livekit.Room,
      room: (req) => req.room,
      handle(req, claims) {
        requireAdmin(claims, req.room);
        const r = room(req.room);
        checkLimits({ metadata: req.metadata });
        r.setMetadata(req.metadata);
        return r.toProto();
      },
    }),
  });
}
