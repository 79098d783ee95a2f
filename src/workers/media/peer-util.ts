// Helpers shared by the publisher and subscriber peers around libdatachannel's lifecycle.
import { guard, type Native, type PeerConnection, type RtcConfig, type Track } from '../native.js';

/** Resolves once ICE gathering is complete (or after `timeoutMs`, with what was gathered). */
export function gatheringComplete(pc: PeerConnection, timeoutMs = 3000): Promise<void> {
  if (pc.gatheringState() === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    pc.onGatheringStateChange(guard('onGatheringStateChange', (state: string) => {
      if (state === 'complete') {
        clearTimeout(timer);
        resolve();
      }
    }));
  });
}

/** Queues remote candidates until the remote description is set, as libdatachannel requires. */
export class CandidateQueue {
  private queue: Array<{ candidate: string; mid: string }> | null = [];

  constructor(private readonly pc: () => PeerConnection | null, private readonly onError: (err: unknown) => void) {}

  add(candidate: string, mid: string): void {
    if (this.queue) {
      if (this.queue.length < 64) this.queue.push({ candidate, mid });
      return;
    }
    this.apply(candidate, mid);
  }

  /** Called once the remote description is set: applies what was queued; returns how many. */
  flush(): number {
    const q = this.queue ?? [];
    this.queue = null;
    for (const c of q) this.apply(c.candidate, c.mid);
    return q.length;
  }

  private apply(candidate: string, mid: string): void {
    const pc = this.pc();
    if (!pc || !candidate) return;
    try {
      pc.addRemoteCandidate(candidate.startsWith('a=') ? candidate.slice(2) : candidate, mid);
    } catch (err) {
      this.onError(err);
    }
  }
}

export function randomSsrc(): number {
  return (Math.floor(Math.random() * 0xfffffff0) + 1) >>> 0;
}

/**
 * One native PeerConnection and its lifecycle, shared by the publisher and subscriber peers:
 * the state callback, remote candidates queued until the remote description is set, an
 * ordered close, and a promise that settles once libdatachannel reports the connection closed.
 * cleanup() must wait for that: releasing the addon while a closing connection still has
 * callbacks in flight aborts the process.
 */
export class NativeConnection {
  pc: PeerConnection | null = null;
  /** The state libdatachannel last reported. */
  state = 'new';
  readonly candidates: CandidateQueue;
  readonly whenClosed: Promise<void>;
  private resolveClosed!: () => void;

  constructor(private readonly where: string, private readonly onError: (where: string, err: unknown) => void) {
    this.whenClosed = new Promise((resolve) => { this.resolveClosed = resolve; });
    this.candidates = new CandidateQueue(() => this.pc, (err) => onError(`${where}.addRemoteCandidate`, err));
  }

  open(native: Native, name: string, config: RtcConfig, onState: (state: string) => void): PeerConnection {
    const pc = new native.PeerConnection(name, config);
    this.pc = pc;
    pc.onStateChange(guard(`${this.where}.onStateChange`, (state: string) => {
      this.state = state;
      if (state === 'closed') this.resolveClosed();
      onState(state);
    }));
    return pc;
  }

  /** Closes `parts` (data channels, tracks) first, then the connection. */
  close(parts: Array<{ close(): void } | null>): void {
    if (!this.pc) this.resolveClosed();
    try {
      for (const part of parts) part?.close();
      this.pc?.close();
    } catch (err) {
      this.onError(`${this.where}.close`, err);
    }
  }
}

/** How long a replaced connection stays open once its successor is connected, ms (or at most, if it never is). */
const RETIRE_AFTER_CONNECTED_MS = 2000;
const RETIRE_TIMEOUT_MS = 15_000;

/**
 * A peer's native connections across ICE restarts, and the transport track in use.
 * libdatachannel cannot restart ICE, so a restart gets a new native connection; the one it
 * replaces stays open until its successor is connected. Closing it at once would send SCTP
 * ABORT over the old DTLS session, which the client still accepts until its own DTLS restart
 * completes, and it would close the client's data channels. Media keeps flowing on the old
 * connection meanwhile (the client's does too), so the new connection's track is used only
 * once that connection is up.
 */
export class Handover {
  /** The transport track media goes out on now. */
  track: Track | null = null;
  /** During a restart: the new connection's track, used once it is connected. */
  private next: Track | null = null;
  private retiring: { conn: NativeConnection; parts: Array<{ close(): void } | null>; timer: NodeJS.Timeout } | null = null;
  /** Replaced connections that have not reported closed yet. */
  private readonly closing = new Set<NativeConnection>();

  /** A connection's transport track. True when it is in use at once (there is no restart under way). */
  attachTrack(track: Track): boolean {
    if (this.retiring !== null) {
      this.next = track;
      return false;
    }
    this.track = track;
    return true;
  }

  /** Starts replacing `conn`; its track and `parts` (its data channels) close with it. */
  begin(conn: NativeConnection, parts: Array<{ close(): void } | null>): void {
    this.finish(); // a restart during a restart: the oldest goes now
    this.closing.add(conn);
    void conn.whenClosed.then(() => this.closing.delete(conn));
    // A restart before the last one connected: that connection (and its track) is the one replaced.
    this.retiring = { conn, parts: [...parts, this.next ?? this.track], timer: setTimeout(() => this.finish(), RETIRE_TIMEOUT_MS) };
    this.next = null;
  }

  /**
   * The current connection is up: after a restart, its track takes over (and is returned) and
   * the old connection goes a little later. Null when nothing changed.
   */
  connected(): Track | null {
    const next = this.next;
    if (next !== null) {
      this.track = next;
      this.next = null;
    }
    const r = this.retiring;
    if (r !== null) {
      clearTimeout(r.timer);
      r.timer = setTimeout(() => this.finish(), RETIRE_AFTER_CONNECTED_MS);
    }
    return next;
  }

  /** Closes the connection being replaced, now. */
  finish(): void {
    const r = this.retiring;
    if (r === null) return;
    this.retiring = null;
    clearTimeout(r.timer);
    r.conn.close(r.parts);
  }

  /** Closes everything: the connection being replaced, and `conn` with its track and `parts`. */
  close(conn: NativeConnection, parts: Array<{ close(): void } | null>): void {
    this.finish();
    conn.close([...parts, this.next ?? this.track]);
    this.track = null;
    this.next = null;
  }

  /** Resolves when every replaced connection has reported closed. */
  get whenClosed(): Promise<void> {
    return Promise.all([...this.closing].map((c) => c.whenClosed)).then(() => undefined);
  }
}
