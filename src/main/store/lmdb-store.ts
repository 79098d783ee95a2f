// The embedded store: one LMDB environment (default ./.strand) with a database per kind of record.
// Writes are LMDB's batched async puts: they commit within milliseconds, in order, and survive
// a kill -9 of the process once committed.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { QueuedWebhook, Store, StoredEgress, StoredIngress, StoredParticipant, StoredRoom } from './store.js';

const participantKey = (roomName: string, identity: string): string[] => [roomName, identity];

export class LmdbStore implements Store {
  private readonly root: RootDatabase;
  private readonly roomsDb: Database<StoredRoom, string>;
  private readonly participantsDb: Database<StoredParticipant, string[]>;
  private readonly webhooksDb: Database<QueuedWebhook, number>;
  private readonly egressDb: Database<StoredEgress, string>;
  private readonly ingressDb: Database<StoredIngress, string>;
  private nextSeq: number;

  /** `dir` holds the environment (strand.mdb and its lock file); it is created if missing. */
  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.root = open({ path: join(dir, 'strand.mdb'), maxDbs: 8 });
    this.roomsDb = this.root.openDB<StoredRoom, string>({ name: 'rooms' });
    this.participantsDb = this.root.openDB<StoredParticipant, string[]>({ name: 'participants' });
    this.webhooksDb = this.root.openDB<QueuedWebhook, number>({ name: 'webhooks' });
    this.egressDb = this.root.openDB<StoredEgress, string>({ name: 'egress' });
    this.ingressDb = this.root.openDB<StoredIngress, string>({ name: 'ingress' });
    let last = 0;
    for (const key of this.webhooksDb.getKeys({ reverse: true, limit: 1 })) last = key;
    this.nextSeq = last + 1;
  }

  rooms(): StoredRoom[] {
    return [...this.roomsDb.getRange()].map(({ value }) => value);
  }

  putRoom(room: StoredRoom): void {
    void this.roomsDb.put(room.name, room);
  }

  deleteRoom(name: string): void {
    void this.roomsDb.remove(name);
  }

  participants(): StoredParticipant[] {
    return [...this.participantsDb.getRange()].map(({ value }) => value);
  }

  putParticipant(p: StoredParticipant): void {
    void this.participantsDb.put(participantKey(p.roomName, p.identity), p);
  }

  deleteParticipant(roomName: string, identity: string): void {
    void this.participantsDb.remove(participantKey(roomName, identity));
  }

  egresses(): StoredEgress[] {
    return [...this.egressDb.getRange()].map(({ value }) => ({ ...value, info: new Uint8Array(value.info) }));
  }

  putEgress(e: StoredEgress): void {
    void this.egressDb.put(e.egressId, e);
  }

  deleteEgress(egressId: string): void {
    void this.egressDb.remove(egressId);
  }

  ingresses(): StoredIngress[] {
    return [...this.ingressDb.getRange()].map(({ value }) => ({ ...value, info: new Uint8Array(value.info) }));
  }

  putIngress(i: StoredIngress): void {
    void this.ingressDb.put(i.ingressId, i);
  }

  deleteIngress(ingressId: string): void {
    void this.ingressDb.remove(ingressId);
  }

  enqueueWebhooks(entries: Array<Omit<QueuedWebhook, 'seq'>>): QueuedWebhook[] {
    return entries.map((e) => {
      const queued = { ...e, seq: this.nextSeq++ };
      void this.webhooksDb.put(queued.seq, queued);
      return queued;
    });
  }

  pendingWebhooks(): QueuedWebhook[] {
    return [...this.webhooksDb.getRange()].map(({ value }) => value);
  }

  async ackWebhook(seq: number): Promise<void> {
    await this.webhooksDb.remove(seq);
  }

  async flushed(): Promise<void> {
    await this.root.flushed;
  }

  async close(): Promise<void> {
    await this.root.flushed;
    await this.root.close();
  }
}
