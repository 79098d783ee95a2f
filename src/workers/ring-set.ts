// The rings between one worker and its peers (other media workers, or the media workers a
// sidecar serves): a writer and an inbound reader per peer slot. New rings to a peer that has
// some replace them: that peer's worker was replaced (media-pool.ts), and what went through the
// old rings went with it.
import { RingReader, RingWriter, type RecordHandler } from './ring-channel.js';

export interface InboundRing {
  slot: number;
  reader: RingReader;
}

/** A record handler that is told which peer's ring the records come from. */
export interface PeerRecordHandler extends RecordHandler {
  from: number;
}

export class RingSet {
  readonly writers = new Map<number, RingWriter>();
  readonly readers: InboundRing[] = [];
  /** What replaced rings counted, so the totals below never go back. */
  private retiredDropped = 0;
  private retiredOut = 0;
  private retiredIn = 0;

  /**
   * Links with `peer`: records to it go into `out` (ringing `peerDoorbell`), records from it come
   * from `inbound`. Returns the writer this replaced, if the peer had rings already.
   */
  attach(peer: number, out: SharedArrayBuffer, peerDoorbell: SharedArrayBuffer, inbound: SharedArrayBuffer, copyRtp = true): RingWriter | undefined {
    const old = this.writers.get(peer);
    if (old) {
      this.retiredDropped += old.dropped;
      this.retiredOut += old.written;
      const i = this.readers.findIndex((r) => r.slot === peer);
      if (i >= 0) this.retiredIn += this.readers.splice(i, 1)[0]!.reader.read;
    }
    this.writers.set(peer, new RingWriter(out, peerDoorbell));
    this.readers.push({ slot: peer, reader: new RingReader(inbound, copyRtp) });
    return old;
  }

  /** Hands every record waiting in the inbound rings to `handler`, peer by peer. */
  drain(handler: PeerRecordHandler, onError: (err: unknown) => void): void {
    for (const inbound of this.readers) {
      handler.from = inbound.slot;
      try {
        inbound.reader.drain(handler);
      } catch (err) {
        onError(err);
      }
    }
  }

  /** No inbound ring has a record (the doorbell's condition to sleep). */
  readonly allEmpty = (): boolean => {
    for (const r of this.readers) if (r.reader.readable) return false;
    return true;
  };

  /** Records dropped because a peer's ring was full, over every writer. */
  get dropped(): number {
    let n = this.retiredDropped;
    for (const w of this.writers.values()) n += w.dropped;
    return n;
  }

  get recordsOut(): number {
    let n = this.retiredOut;
    for (const w of this.writers.values()) n += w.written;
    return n;
  }

  get recordsIn(): number {
    let n = this.retiredIn;
    for (const r of this.readers) n += r.reader.read;
    return n;
  }
}
