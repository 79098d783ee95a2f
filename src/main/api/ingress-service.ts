// LiveKit's Ingress service over Twirp (/twirp/livekit.Ingress/*): every method needs the
// ingressAdmin grant. Without an `ingress` section in the config (LiveKit: no ingress service
// deployed) every call answers `unavailable`.
import { livekit } from '../../proto/index.js';
import type { ClaimGrants } from '../auth/grants.js';
import type { IngressManager } from '../ingress/ingress-manager.js';
import { mergeItems, method, TwirpError, type TwirpRouter } from './twirp.js';

function requireAdmin(claims: ClaimGrants): void {
  if (!claims.video.ingressAdmin) throw new TwirpError('permission_denied', 'the token lacks the ingressAdmin grant');
}

/**
 * In a cluster, CreateIngress runs on the room's node (its URL points there, where the room's
 * media is), and the calls by id or listing every ingress reach every node.
 */
export function registerIngressService(router: TwirpRouter, ingress: IngressManager | null): void {
  const manager = (claims: ClaimGrants): IngressManager => {
    requireAdmin(claims);
    if (!ingress) throw new TwirpError('unavailable', 'ingress is not enabled on this node (add an ingress section to the config)');
    return ingress;
  };
  router.register('livekit.Ingress', {
    CreateIngress: method({
      request: livekit.CreateIngressRequest,
      response: livekit.IngressInfo,
      room: (req) => req.roomName,
      place: true,
      handle(req, claims) {
        return manager(claims).create(req);
      },
    }),
    UpdateIngress: method({
      request: livekit.UpdateIngressRequest,
      response: livekit.IngressInfo,
      everyNode: 'first',
      handle(req, claims) {
        return manager(claims).update(req);
      },
    }),
    ListIngress: method({
      request: livekit.ListIngressRequest,
      response: livekit.ListIngressResponse,
      everyNode: mergeItems,
      handle(req, claims) {
        return { items: manager(claims).list({ roomName: req.roomName ?? '', ingressId: req.ingressId ?? '' }) };
      },
    }),
    DeleteIngress: method({
      request: livekit.DeleteIngressRequest,
      response: livekit.IngressInfo,
      everyNode: 'first',
      handle(req, claims) {
        if (!req.ingressId) throw new TwirpError('invalid_argument', 'ingress_id is required');
        return manager(claims).delete(req.ingressId);
      },
    }),
  });
}
