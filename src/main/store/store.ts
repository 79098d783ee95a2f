// What Strand keeps across restarts, behind one interface: LMDB on a single node (lmdb-store.ts),
// Redis when a deployment spans several nodes (later). The main thread writes through on every
// change; nothing here is on the media path.

/** A room as stored: enough to list it after a restart and to emit its webhooks. */
export interface StoredRoom {
  sid: string;
  name: string;
  metadata: string;
  emptyTimeout: number;
  departureTimeout: number;
  maxParticipants: number;
  creationTimeMs: number;
  /** Made with CreateRoom (kept across restarts), not auto-created by a join. */
  createdByApi: boolean;
}

/** A participant as stored: its room and its ParticipantInfo (protobuf bytes, tracks included). */
export interface StoredParticipant {
  roomName: string;
  identity: string;
  info: Uint8Array;
  /** It reached ACTIVE (participant_left rather than participant_connection_aborted). */
  wasActive: boolean;
}

/** An egress as stored: its EgressInfo (protobuf bytes) and who else hears of it. */
export interface StoredEgress {
  egressId: string;
  roomName: string;
  info: Uint8Array;
  /** The request's own webhook receivers. */
  webhooks: Array<{ url: string; signingKey: string }>;
}

/** An ingress endpoint as stored: its IngressInfo (protobuf bytes). */
export interface StoredIngress {
  ingressId: string;
  info: Uint8Array;
}

/** One webhook delivery waiting in the durable queue (one per event and URL). */
export interface QueuedWebhook {
  /** Queue order; deliveries of one room and URL go out in this order. */
  seq: number;
  url: string;
  /** Room name: the ordering lane. */
  room: string;
  /** The exact protojson body that is signed and posted. */
  body: string;
  createdAtMs: number;
  /** Signing key for this delivery (an egress request's own webhook); absent: webhook.api_key. */
  apiKey?: string;
}

export interface Store {
  rooms(): StoredRoom[];
  putRoom(room: StoredRoom): void;
  deleteRoom(name: string): void;

  participants(): StoredParticipant[];
  putParticipant(p: StoredParticipant): void;
  deleteParticipant(roomName: string, identity: string): void;

  egresses(): StoredEgress[];
  putEgress(e: StoredEgress): void;
  deleteEgress(egressId: string): void;

  ingresses(): StoredIngress[];
  putIngress(i: StoredIngress): void;
  deleteIngress(ingressId: string): void;

  /** Appends deliveries, giving each the next sequence number; durable once `flushed()` resolves. */
  enqueueWebhooks(entries: Array<Omit<QueuedWebhook, 'seq'>>): QueuedWebhook[];
  /** Every delivery not yet acknowledged, oldest first. */
  pendingWebhooks(): QueuedWebhook[];
  /** Removes a delivered webhook; resolves once the removal is committed. */
  ackWebhook(seq: number): Promise<void>;

  /** Resolves once every write so far is on disk. */
  flushed(): Promise<void>;
  close(): Promise<void>;
}
