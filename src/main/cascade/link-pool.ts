// The node link worker (one thread beside the media workers): the UDP media link to the other
// nodes, fed by the media workers' rings (src/workers/node-link/link-worker.ts).
import { LINK_PEER_BASE } from '../../workers/protocol.js';
import type { LinkCommand, LinkEvent, LinkResults } from '../../workers/node-link/link-protocol.js';
import type { Logger } from '../logger.js';
import type { MediaPool } from '../media-pool.js';
import { SidecarPool } from '../sidecar-pool.js';

export class LinkPool extends SidecarPool<LinkCommand, LinkResults, LinkEvent> {
  constructor(ringBytes: number, media: MediaPool, log: Logger, onEvent: (slot: number, e: LinkEvent) => void) {
    super({ name: 'node link', entry: new URL('../../workers/node-link/link-entry.js', import.meta.url), workers: 1, ringBytes, peerBase: LINK_PEER_BASE },
      media, log, onEvent);
  }
}
