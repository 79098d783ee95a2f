// The commands the main thread sends to the node link worker and the events it sends back. The
// link worker owns this node's UDP media link (node-link.ts) and is a ring peer of the media
// workers (LINK_PEER_BASE): records of tracks that other nodes subscribe to come in through a
// ring and leave as datagrams, once per remote node; records from other nodes arrive as
// datagrams and go into the ring of the media worker that stands in for their publisher.
import type { MessagePort } from 'node:worker_threads';

export interface LinkOpenOptions {
  /** This node's link id (derived from its node id, advertised in Redis). */
  localId: number;
  secret: string;
  encrypt: boolean;
  bind: string;
  /** 0: any free port. */
  port: number;
}

/** Per remote node, as the link worker counts it. */
export interface LinkPeerStats {
  peer: number;
  /** Media records (RTP and sender reports) sent to it and received from it. */
  mediaSent: number;
  mediaReceived: number;
  /** Data packets sent to it and received from it. */
  dataSent: number;
  dataReceived: number;
  stalled: boolean;
  /** One-way delay of its probes, ms (NaN before any). */
  delayP50Ms: number;
  delayP99Ms: number;
}

export interface LinkWorkerStats {
  tid: number;
  datagramsSent: number;
  datagramsReceived: number;
  retransmitted: number;
  nacksSent: number;
  rejected: number;
  lost: number;
  /** Records that found no route (a track no longer forwarded, a ring that was full). */
  unrouted: number;
  ringDrops: number;
  peers: LinkPeerStats[];
}

export type LinkCommand =
  | { op: 'init'; slot: number; events: MessagePort; doorbell: SharedArrayBuffer }
  | { op: 'attachRing'; mediaSlot: number; out: SharedArrayBuffer; mediaDoorbell: SharedArrayBuffer; inbound: SharedArrayBuffer }
  | { op: 'open'; options: LinkOpenOptions }
  | { op: 'addPeer'; peer: number; host: string; port: number }
  | { op: 'removePeer'; peer: number }
  /** Origin side: records of relay `relayId` from media worker `mediaSlot` go to `peer` as `linkId`. */
  | { op: 'sendTrack'; mediaSlot: number; relayId: number; linkId: number; peer: number }
  | { op: 'stopTrack'; linkId: number; peer: number }
  /** Receiving side: records `linkId` from `peer` go to media worker `mediaSlot` as `relayId`. */
  | { op: 'receiveTrack'; peer: number; linkId: number; mediaSlot: number; relayId: number }
  | { op: 'dropTrack'; peer: number; linkId: number }
  /** The other nodes a room spans (its data packets go to them); none: the room is local again. */
  | { op: 'roomPeers'; roomSid: string; peers: number[] }
  | { op: 'stats' }
  | { op: 'shutdown' };

export interface LinkResults {
  init: { slot: number };
  attachRing: null;
  open: { port: number };
  addPeer: null;
  removePeer: null;
  sendTrack: null;
  stopTrack: null;
  receiveTrack: null;
  dropTrack: null;
  roomPeers: null;
  stats: LinkWorkerStats;
  shutdown: null;
}

export type LinkEvent =
  /** Nothing heard from `peer` for 2 s (or heard again). */
  | { ev: 'stalled'; peer: number; stalled: boolean }
  | { ev: 'error'; where: string; message: string };
