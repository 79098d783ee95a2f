// The pool of egress workers (separate from the media workers): RTP of recorded tracks comes
// from the media workers through a ring, keyframe requests go back through the other.
import { EGRESS_PEER_BASE } from '../../workers/protocol.js';
import type { EgressCommand, EgressEvent, EgressResults } from '../../workers/egress/egress-protocol.js';
import type { Logger } from '../logger.js';
import type { MediaPool } from '../media-pool.js';
import { SidecarPool } from '../sidecar-pool.js';

export class EgressPool extends SidecarPool<EgressCommand, EgressResults, EgressEvent> {
  constructor(workers: number, ringBytes: number, media: MediaPool, log: Logger, onEvent: (slot: number, e: EgressEvent) => void) {
    super({ name: 'egress', entry: new URL('../../workers/egress/egress-entry.js', import.meta.url), workers, ringBytes, peerBase: EGRESS_PEER_BASE },
      media, log, onEvent);
  }
}
