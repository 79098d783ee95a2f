// LiveKit's Egress service over Twirp (/twirp/livekit.Egress/*): every method needs the
// roomRecord grant. Requests are read into plans (egress/egress-plan.ts) and run by the
// EgressManager; every call answers with EgressInfo, ListEgress with a list of them.
import { livekit } from '../../proto/index.js';
import type { ClaimGrants } from '../auth/grants.js';
import type { EgressManager } from '../egress/egress-manager.js';
import { planParticipant, planRoomComposite, planStart, planTrack, planTrackComposite, planWeb } from '../egress/egress-plan.js';
import { mergeItems, method, TwirpError, type TwirpRouter } from './twirp.js';

function requireRecord(claims: ClaimGrants): void {
  if (!claims.video.roomRecord) throw new TwirpError('permission_denied', 'the token lacks the roomRecord grant');
}

function requireId(id: string | null | undefined): string {
  if (!id) throw new TwirpError('invalid_argument', 'egress_id is required');
  return id;
}

// In a cluster, the calls that name a room run on that room's node, which has its tracks;
// those by egress id find the node that runs it.
export function registerEgressService(router: TwirpRouter, egress: EgressManager): void {
  router.register('livekit.Egress', {
    StartEgress: method({
      request: livekit.StartEgressRequest,
      response: livekit.EgressInfo,
      handle(req, claims) {
        requireRecord(claims);
        return egress.start(planStart(req));
      },
    }),
    StartRoomCompositeEgress: method({
      request: livekit.RoomCompositeEgressRequest,
      response: livekit.EgressInfo,
      room: (req) => req.roomName,
      handle(req, claims) {
        requireRecord(claims);
        return egress.start(planRoomComposite(req));
      },
    }),
    StartParticipantEgress: method({
      request: livekit.ParticipantEgressRequest,
      response: livekit.EgressInfo,
      room: (req) => req.roomName,
      handle(req, claims) {
        requireRecord(claims);
        return egress.start(planParticipant(req));
      },
    }),
    StartTrackCompositeEgress: method({
      request: livekit.TrackCompositeEgressRequest,
      response: livekit.EgressInfo,
      room: (req) => req.roomName,
      handle(req, claims) {
        requireRecord(claims);
        return egress.start(planTrackComposite(req));
      },
    }),
    StartTrackEgress: method({
      request: livekit.TrackEgressRequest,
      response: livekit.EgressInfo,
      room: (req) => req.roomName,
      handle(req, claims) {
        requireRecord(claims);
        return egress.start(planTrack(req));
      },
    }),
    StartWebEgress: method({
      request: livekit.WebEgressRequest,
      response: livekit.EgressInfo,
      handle(_req, claims) {
        requireRecord(claims);
        return planWeb();
      },
    }),
    UpdateLayout: method({
      request: livekit.UpdateLayoutRequest,
      response: livekit.EgressInfo,
      everyNode: 'first',
      async handle(req, claims) {
        requireRecord(claims);
        return egress.updateLayout(requireId(req.egressId), req.layout);
      },
    }),
    UpdateStream: method({
      request: livekit.UpdateStreamRequest,
      response: livekit.EgressInfo,
      everyNode: 'first',
      async handle(req, claims) {
        requireRecord(claims);
        return egress.updateStream(requireId(req.egressId), req.addOutputUrls, req.removeOutputUrls);
      },
    }),
    ListEgress: method({
      request: livekit.ListEgressRequest,
      response: livekit.ListEgressResponse,
      room: (req) => req.roomName,
      everyNode: mergeItems,
      handle(req, claims) {
        requireRecord(claims);
        return { items: egress.list({ roomName: req.roomName, egressId: req.egressId, active: req.active }) };
      },
    }),
    StopEgress: method({
      request: livekit.StopEgressRequest,
      response: livekit.EgressInfo,
      everyNode: 'first',
      handle(req, claims) {
        requireRecord(claims);
        return egress.stop(requireId(req.egressId));
      },
    }),
  });
}
