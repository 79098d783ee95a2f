// The pool of ingress workers (separate from the media workers): the RTP an ingress transcoder
// makes goes through a ring into the media worker hosting the ingress participant.
import { INGRESS_PEER_BASE } from '../../workers/protocol.js';
import type { IngressCommand, IngressEvent, IngressResults } from '../../workers/ingress/ingress-protocol.js';
import type { Logger } from '../logger.js';
import type { MediaPool } from '../media-pool.js';
import { SidecarPool } from '../sidecar-pool.js';

export class IngressPool extends SidecarPool<IngressCommand, IngressResults, IngressEvent> {
  constructor(workers: number, ringBytes: number, media: MediaPool, log: Logger, onEvent: (slot: number, e: IngressEvent) => void) {
    super({ name: 'ingress', entry: new URL('../../workers/ingress/ingress-entry.js', import.meta.url), workers, ringBytes, peerBase: INGRESS_PEER_BASE },
      media, log, onEvent);
  }
}
