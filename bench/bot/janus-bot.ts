// The same bot as bot.ts, against Janus 1.1's videoroom plugin over its HTTP API, so that both
// servers carry the same workload: a publisher offers the same synthetic tracks; a subscriber
// gets Janus's offer for one feed, answers, and is measured the same way (media.ts).
import nodeDataChannel from 'node-datachannel';
import { holdCandidates, type HeldOffer } from '../../src/loadtest/held-candidates.js';
import { BotMedia, closeConnections, withTimeout, type PublishOptions } from '../../src/loadtest/media.js';
import { nowMs } from '../../src/loadtest/synthetic-rtp.js';

interface JanusEvent {
  janus: string;
  transaction?: string;
  sender?: number;
  data?: { id: number };
  plugindata?: { data: Record<string, unknown> };
  jsep?: { type: string; sdp: string };
  error?: { code: number; reason: string };
}

let transactions = 0;

/** One Janus session with its long poll, and requests whose answers come back on either path. */
class JanusSession {
  private id = 0;
  private polling = true;
  private readonly pending = new Map<string, (e: JanusEvent) => void>();
  private readonly webrtcUp = new Map<number, () => void>();

  constructor(private readonly base: string) {}

  private async post(path: string, body: Record<string, unknown>): Promise<JanusEvent> {
    const res = await fetch(`${this.base}${path}`, { method: 'POST', body: JSON.stringify(body) });
    return res.json() as Promise<JanusEvent>;
  }

  async open(): Promise<void> {
    const r = await this.post('/janus', { janus: 'create', transaction: `t${transactions++}` });
    if (r.janus !== 'success' || !r.data) throw new Error(`janus create: ${JSON.stringify(r.error ?? r)}`);
    this.id = r.data.id;
    void this.poll();
  }

  private async poll(): Promise<void> {
    while (this.polling) {
      try {
        const res = await fetch(`${this.base}/janus/${this.id}?maxev=20`);
        const events = await res.json() as JanusEvent | JanusEvent[];
        for (const e of Array.isArray(events) ? events : [events]) {
          if (e.janus === 'webrtcup' && e.sender !== undefined) this.webrtcUp.get(e.sender)?.();
          if (e.transaction && e.janus !== 'ack') {
            this.pending.get(e.transaction)?.(e);
            this.pending.delete(e.transaction);
          }
        }
      } catch {
        if (this.polling) await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async attach(): Promise<number> {
    const r = await this.post(`/janus/${this.id}`, { janus: 'attach', plugin: 'janus.plugin.videoroom', transaction: `t${transactions++}` });
    if (r.janus !== 'success' || !r.data) throw new Error(`janus attach: ${JSON.stringify(r.error ?? r)}`);
    return r.data.id;
  }

  /** A videoroom request; resolves with its answer (synchronous, or the event that follows the ack). */
  async message(handle: number, body: Record<string, unknown>, jsep?: { type: string; sdp: string; trickle?: boolean }): Promise<JanusEvent> {
    const transaction = `t${transactions++}`;
    const later = new Promise<JanusEvent>((resolve) => this.pending.set(transaction, resolve));
    const r = await this.post(`/janus/${this.id}/${handle}`, { janus: 'message', body, jsep, transaction });
    const e = r.janus === 'ack' ? await withTimeout(later, 15_000, `janus: no answer to ${String(body.request)}`) : r;
    this.pending.delete(transaction);
    const error = e.plugindata?.data.error ?? e.error?.reason;
    if (e.janus === 'error' || error) throw new Error(`janus ${String(body.request)}: ${String(error)}`);
    return e;
  }

  /** Trickles an offer's held candidates, then their end (held-candidates.ts says why). */
  async trickle(handle: number, held: HeldOffer): Promise<void> {
    const candidates = held.candidates.map((candidate) => ({ candidate, sdpMid: held.mid, sdpMLineIndex: 0 }));
    for (const body of [{ candidates }, { candidate: { completed: true } }]) {
      const r = await this.post(`/janus/${this.id}/${handle}`, { janus: 'trickle', ...body, transaction: `t${transactions++}` });
      if (r.janus !== 'ack') throw new Error(`janus trickle: ${JSON.stringify(r.error ?? r)}`);
    }
  }

  whenWebrtcUp(handle: number): Promise<void> {
    return new Promise((resolve) => this.webrtcUp.set(handle, resolve));
  }

  close(): void {
    this.polling = false;
    void this.post(`/janus/${this.id}`, { janus: 'destroy', transaction: `t${transactions++}` }).catch(() => undefined);
  }
}

/** Creates a videoroom for a benchmark run; returns its id. */
export async function createJanusRoom(base: string, publishers: number): Promise<number> {
  const s = new JanusSession(base);
  await s.open();
  try {
    const handle = await s.attach();
    const room = 1 + Math.floor(Math.random() * 1e9);
    await s.message(handle, { request: 'create', room, publishers, bitrate: 0, bitrate_cap: false, videocodec: 'vp8', audiocodec: 'opus' });
    return room;
  } finally {
    s.close();
  }
}

export class JanusBot {
  readonly media: BotMedia;
  private session: JanusSession | null = null;
  private pc: nodeDataChannel.PeerConnection | null = null;
  /** Request to media connection up, ms. */
  connectedMs = -1;
  joinMs = -1;
  /** This publisher's feed id. */
  feed = 0;

  constructor(readonly identity: string, private readonly base: string, private readonly bindAddress: string) {
    this.media = new BotMedia(identity);
  }

  private newPc(): nodeDataChannel.PeerConnection {
    const pc = new nodeDataChannel.PeerConnection(this.identity, { iceServers: [], bindAddress: this.bindAddress });
    this.pc = pc;
    return pc;
  }

  private async gathered(pc: nodeDataChannel.PeerConnection, type: 'offer' | 'answer'): Promise<string> {
    if (pc.gatheringState() !== 'complete') {
      await withTimeout(new Promise<void>((resolve) => pc.onGatheringStateChange((s) => { if (s === 'complete') resolve(); })), 10_000, 'ICE gathering');
    }
    const desc = pc.localDescription();
    if (!desc || desc.type !== type) throw new Error(`no local ${type}`);
    return desc.sdp;
  }

  async publish(room: number, opts: PublishOptions): Promise<number> {
    const started = nowMs();
    this.session = new JanusSession(this.base);
    await this.session.open();
    const handle = await this.session.attach();
    const joined = await this.session.message(handle, { request: 'join', ptype: 'publisher', room, display: this.identity });
    this.joinMs = nowMs() - started;
    this.feed = Number(joined.plugindata?.data.id ?? 0);
    const pc = this.newPc();
    this.media.addTracks(pc, opts);
    pc.setLocalDescription('offer');
    const offer = holdCandidates(await this.gathered(pc, 'offer'));
    const up = this.session.whenWebrtcUp(handle);
    const answer = await this.session.message(handle, { request: 'publish', audio: opts.audio, video: opts.video }, { type: 'offer', sdp: offer.sdp, trickle: true });
    if (!answer.jsep) throw new Error('janus publish: no answer');
    pc.setRemoteDescription(answer.jsep.sdp, 'answer');
    await this.session.trickle(handle, offer);
    await withTimeout(up, 15_000, `${this.identity}: publisher webrtcup`);
    await this.media.opened(15_000);
    this.connectedMs = nowMs() - started;
    this.media.startSending(opts.videoBitrate ?? 600_000);
    return this.feed;
  }

  /**
   * A participant connected and publishing nothing, as an idle LiveKit participant is: a
   * publisher whose connection carries only a data channel (ICE, DTLS and SCTP up).
   */
  async joinIdle(room: number): Promise<void> {
    const started = nowMs();
    this.session = new JanusSession(this.base);
    await this.session.open();
    const handle = await this.session.attach();
    await this.session.message(handle, { request: 'join', ptype: 'publisher', room, display: this.identity });
    this.joinMs = nowMs() - started;
    const pc = this.newPc();
    const opened = new Promise<void>((resolve) => pc.createDataChannel('idle').onOpen(() => resolve()));
    pc.setLocalDescription('offer');
    const offer = holdCandidates(await this.gathered(pc, 'offer'));
    const answer = await this.session.message(handle, { request: 'publish', audio: false, video: false, data: true }, { type: 'offer', sdp: offer.sdp, trickle: true });
    if (!answer.jsep) throw new Error('janus publish: no answer');
    pc.setRemoteDescription(answer.jsep.sdp, 'answer');
    await this.session.trickle(handle, offer);
    await withTimeout(opened, 15_000, `${this.identity}: data channel`);
    this.connectedMs = nowMs() - started;
  }

  async subscribe(room: number, feeds: number[]): Promise<void> {
    const started = nowMs();
    this.session = new JanusSession(this.base);
    await this.session.open();
    const handle = await this.session.attach();
    const attached = await this.session.message(handle, { request: 'join', ptype: 'subscriber', room, streams: feeds.map((feed) => ({ feed })) });
    this.joinMs = nowMs() - started;
    if (!attached.jsep) throw new Error('janus subscribe: no offer');
    const pc = this.newPc();
    const connected = new Promise<void>((resolve) => pc.onStateChange((s) => { if (s === 'connected') resolve(); }));
    pc.onTrack((track) => this.media.receive(track));
    pc.setRemoteDescription(attached.jsep.sdp, 'offer');
    const answer = await this.gathered(pc, 'answer');
    await this.session.message(handle, { request: 'start' }, { type: 'answer', sdp: answer });
    await withTimeout(connected, 15_000, `${this.identity}: subscriber connection`);
    this.connectedMs = nowMs() - started;
  }

  sent(): number {
    return this.media.sent();
  }

  async close(): Promise<void> {
    this.media.stop();
    this.session?.close();
    await closeConnections([this.pc]);
    this.pc = null;
  }
}
