// A LiveKit participant for load tests, on node-datachannel: speaks the signal protocol (join,
// AddTrack, offers and answers, trickle, ping), publishes synthetic audio and video, subscribes,
// and measures what it receives (media.ts). It can also send a PLI for what it receives.
import nodeDataChannel from 'node-datachannel';
import WebSocket from 'ws';
import { livekit } from '../proto/index.js';
import { holdCandidates, type HeldOffer } from './held-candidates.js';
import { BotMedia, closeConnections, withTimeout, type PublishOptions } from './media.js';
import { nowMs } from './synthetic-rtp.js';

export type { PublishOptions } from './media.js';

export class Bot {
  readonly media: BotMedia;
  private ws: WebSocket | null = null;
  private sub: nodeDataChannel.PeerConnection | null = null;
  private pub: nodeDataChannel.PeerConnection | null = null;
  private readonly channels: nodeDataChannel.DataChannel[] = [];
  private readonly pendingCandidates: string[] = [];
  /** The publisher offer's candidates, trickled once the answer is applied (held-candidates.ts). */
  private heldOffer: HeldOffer | null = null;
  private readonly waiters = new Map<string, Array<(msg: livekit.SignalResponse) => void>>();
  private pingTimer: NodeJS.Timeout | null = null;
  private onSubscriberConnected: () => void = () => undefined;
  private connectStarted = 0;
  /** WebSocket open to JoinResponse, ms. */
  joinMs = -1;
  /** WebSocket open to the subscriber connection up, ms. */
  connectedMs = -1;
  participantSid = '';
  /** Data packets received on the subscriber connection's channels. */
  dataReceived = 0;

  constructor(readonly identity: string) {
    this.media = new BotMedia(identity);
  }

  get received(): BotMedia['received'] {
    return this.media.received;
  }

  get plisReceived(): number {
    return this.media.plisReceived;
  }

  get errors(): string[] {
    return this.media.errors;
  }

  /** Connects and joins; resolves once the subscriber connection is up. */
  async join(url: string, token: string, timeoutMs = 20_000): Promise<void> {
    this.connectStarted = nowMs();
    const ws = new WebSocket(`${url}/rtc?access_token=${encodeURIComponent(token)}&auto_subscribe=1&protocol=17&sdk=go&version=strand-bot`);
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer) => this.onSignal(livekit.SignalResponse.decode(data)));
    ws.on('error', (err) => this.errors.push(`ws: ${err.message}`));
    const connected = withTimeout(new Promise<void>((resolve, reject) => {
      this.onSubscriberConnected = resolve;
      ws.once('close', (code) => reject(new Error(`${this.identity}: signal closed (${code}) while joining`)));
    }), timeoutMs, `${this.identity}: not connected within ${timeoutMs} ms`);
    const join = await this.next('join', timeoutMs);
    this.joinMs = nowMs() - this.connectStarted;
    this.participantSid = join.join?.participant?.sid ?? '';
    this.pingTimer = setInterval(() => this.send({ pingReq: { timestamp: Date.now() } }), 5000);
    await connected;
  }

  private send(req: livekit.ISignalRequest): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(livekit.SignalRequest.encode(req).finish());
  }

  private next(kind: string, timeoutMs: number): Promise<livekit.SignalResponse> {
    return withTimeout(new Promise((resolve) => {
      const list = this.waiters.get(kind) ?? [];
      list.push(resolve);
      this.waiters.set(kind, list);
    }), timeoutMs, `${this.identity}: no ${kind} within ${timeoutMs} ms`);
  }

  private onSignal(msg: livekit.SignalResponse): void {
    const kind = msg.message ?? '';
    this.waiters.get(kind)?.shift()?.(msg);
    try {
      if (kind === 'offer') this.onSubscriberOffer(msg.offer!.sdp ?? '');
      else if (kind === 'answer') this.onPublisherAnswer(msg.answer!.sdp ?? '');
      else if (kind === 'trickle') this.onTrickle(msg.trickle!);
    } catch (err) {
      this.errors.push(`${kind}: ${(err as Error).message}`);
    }
  }

  private onTrickle(t: livekit.ITrickleRequest): void {
    const init = JSON.parse(t.candidateInit ?? '{}') as { candidate?: string; sdpMid?: string };
    if (!init.candidate) return;
    if (t.target === livekit.SignalTarget.SUBSCRIBER) {
      if (!this.sub?.remoteDescription()) this.pendingCandidates.push(init.candidate);
      else this.sub.addRemoteCandidate(init.candidate, init.sdpMid ?? '0');
    } else if (this.pub?.remoteDescription()) {
      this.pub.addRemoteCandidate(init.candidate, init.sdpMid ?? '0');
    }
  }

  private onPublisherAnswer(sdp: string): void {
    this.pub?.setRemoteDescription(sdp, 'answer');
    const held = this.heldOffer;
    this.heldOffer = null;
    if (held === null) return; // a later answer: the candidates went with the first
    for (const candidate of held.candidates) {
      this.send({ trickle: { candidateInit: JSON.stringify({ candidate, sdpMid: held.mid }), target: livekit.SignalTarget.PUBLISHER } });
    }
  }

  /** Strand offers on the subscriber connection (at join, and at every subscription change). */
  private onSubscriberOffer(sdp: string): void {
    if (!this.sub) {
      // Media sections arrive by re-offer after the data-only first offer: without
      // forceMediaTransport libdatachannel never opens their tracks.
      const pc = new nodeDataChannel.PeerConnection(`${this.identity}-sub`, { iceServers: [], bindAddress: '127.0.0.1', forceMediaTransport: true });
      this.sub = pc;
      pc.onLocalDescription((answer, type) => {
        if (type === 'answer') this.send({ answer: { type: 'answer', sdp: answer } });
      });
      pc.onLocalCandidate((candidate, mid) => {
        this.send({ trickle: { candidateInit: JSON.stringify({ candidate, sdpMid: mid }), target: livekit.SignalTarget.SUBSCRIBER } });
      });
      pc.onStateChange((state) => {
        if (state !== 'connected') return;
        if (this.connectedMs < 0) this.connectedMs = nowMs() - this.connectStarted;
        this.onSubscriberConnected();
      });
      pc.onTrack((track) => this.media.receive(track));
      // Held until closed: a wrapper collected before its close callback crashes libdatachannel's cleanup.
      pc.onDataChannel((dc) => {
        this.channels.push(dc);
        // Data is counted, not kept: without a handler libdatachannel queues every message.
        dc.onMessage(() => { this.dataReceived++; });
      });
    }
    this.sub.setRemoteDescription(sdp, 'offer');
    for (const c of this.pendingCandidates.splice(0)) this.sub.addRemoteCandidate(c, '0');
  }

  /** Sends a PLI for every video track received. */
  sendPli(): number {
    return this.media.sendPli();
  }

  /** Announces and publishes synthetic tracks; resolves once they are being sent. */
  async publish(opts: PublishOptions, timeoutMs = 20_000): Promise<string[]> {
    const pc = new nodeDataChannel.PeerConnection(`${this.identity}-pub`, { iceServers: [], bindAddress: '127.0.0.1' });
    this.pub = pc;
    pc.onStateChange((state) => {
      if (state === 'failed') this.errors.push('publisher connection failed');
    });
    const sids: string[] = [];
    for (const t of this.media.addTracks(pc, opts)) {
      this.send({ addTrack: {
        cid: t.cid, name: t.kind, type: t.kind === 'audio' ? livekit.TrackType.AUDIO : livekit.TrackType.VIDEO,
        source: t.kind === 'audio' ? livekit.TrackSource.MICROPHONE : livekit.TrackSource.CAMERA,
        width: t.kind === 'video' ? 1280 : 0, height: t.kind === 'video' ? 720 : 0,
      } });
      const published = await this.next('trackPublished', timeoutMs);
      sids.push(published.trackPublished?.track?.sid ?? '');
    }
    await new Promise<void>((resolve) => {
      pc.onGatheringStateChange((s) => { if (s === 'complete') resolve(); });
      pc.setLocalDescription('offer');
    });
    const offer = holdCandidates(pc.localDescription()!.sdp);
    this.heldOffer = offer;
    this.send({ offer: { type: 'offer', sdp: offer.sdp, id: 1 } });
    await this.media.opened(timeoutMs);
    this.media.startSending(opts.videoBitrate ?? 600_000);
    return sids;
  }

  /** Packets this bot has sent. */
  sent(): number {
    return this.media.sent();
  }

  /**
   * Stops sending, leaves, and closes the connections; resolves once libdatachannel reported
   * them closed (nodeDataChannel.cleanup() before that crashes the process).
   */
  async close(): Promise<void> {
    this.media.stop();
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.send({ leave: { reason: livekit.DisconnectReason.CLIENT_INITIATED } });
    // A closing handshake, not terminate(): that drops the queued leave, and the server then
    // keeps the participant for its resume grace (20 s) instead of letting it go at once.
    const ws = this.ws;
    if (ws && ws.readyState === ws.OPEN) {
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.close(1000);
      await withTimeout(closed, 1000, 'close').catch(() => ws.terminate());
    } else {
      ws?.terminate();
    }
    await closeConnections([this.pub, this.sub]);
    this.pub = null;
    this.sub = null;
  }
}
