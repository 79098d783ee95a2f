// A LiveKit participant for load tests, on node-datachannel: speaks the signal protocol (join,
// AddTrack, offers and answers, trickle, ping), publishes synthetic audio and video, subscribes,
// and measures per received track: packets, bytes, loss from sequence gaps, and one-way latency
// from the send time in each payload. It can also send a PLI for what it receives.
import nodeDataChannel from 'node-datachannel';
import WebSocket from 'ws';
import { livekit } from '../../src/proto/index.js';
import { RtpHeader, parseRtpHeader } from '../../src/rtp/packet.js';
import {
  AUDIO_PT, AUDIO_STAMP_OFFSET, EXT_AUDIO_LEVEL_ID, EXT_AUDIO_LEVEL_URI, EXT_MID_ID, EXT_MID_URI, SyntheticStream, VIDEO_PT,
  VIDEO_STAMP_OFFSET, nowMs,
} from './synthetic-rtp.js';

export interface PublishOptions {
  audio: boolean;
  video: boolean;
  /** Video bitrate to send, bit/s (default 600 kbit/s at 30 frames/s). */
  videoBitrate?: number;
}

export interface ReceivedTrack {
  kind: 'audio' | 'video';
  packets: number;
  bytes: number;
  /** Sequence numbers never seen (gaps). */
  lost: number;
  /** One-way latencies, ms (a bounded sample). */
  latencies: number[];
}

const LATENCY_SAMPLES = 5000;

/** `p`, or a rejection with `message` after `ms` (the timer does not outlive `p`). */
function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
const PACKET_PAYLOAD = 1100;

class TrackMeter implements ReceivedTrack {
  packets = 0;
  bytes = 0;
  lost = 0;
  latencies: number[] = [];
  private highest = -1;

  constructor(readonly kind: 'audio' | 'video') {}

  onPacket(seq: number, len: number, latencyMs: number): void {
    this.packets++;
    this.bytes += len;
    if (this.highest >= 0) {
      const gap = (seq - this.highest) & 0xffff;
      if (gap > 0 && gap < 0x8000) {
        this.lost += gap - 1;
        this.highest = seq;
      }
    } else {
      this.highest = seq;
    }
    if (latencyMs >= 0 && latencyMs < 60_000) {
      if (this.latencies.length < LATENCY_SAMPLES) this.latencies.push(latencyMs);
      else this.latencies[Math.floor(Math.random() * LATENCY_SAMPLES)] = latencyMs;
    }
  }
}

export class Bot {
  private ws: WebSocket | null = null;
  private sub: nodeDataChannel.PeerConnection | null = null;
  private pub: nodeDataChannel.PeerConnection | null = null;
  private readonly subTracks: nodeDataChannel.Track[] = [];
  private readonly channels: nodeDataChannel.DataChannel[] = [];
  private readonly pubTracks: Array<{ track: nodeDataChannel.Track; stream: SyntheticStream }> = [];
  private readonly pendingCandidates: string[] = [];
  private readonly waiters = new Map<string, Array<(msg: livekit.SignalResponse) => void>>();
  private timers: NodeJS.Timeout[] = [];
  private readonly header = new RtpHeader();
  /** Received tracks by SSRC. */
  readonly received = new Map<number, TrackMeter>();
  /** Keyframe requests (PLI/FIR) the SFU sent to this bot's video. */
  plisReceived = 0;
  joinMs = -1;
  /** Time from the WebSocket open to the subscriber connection up, ms. */
  connectedMs = -1;
  participantSid = '';
  errors: string[] = [];
  private connectStarted = 0;

  constructor(readonly identity: string) {}

  /** Connects and joins; resolves once the subscriber connection is up. */
  async join(url: string, token: string, timeoutMs = 20_000): Promise<void> {
    this.connectStarted = nowMs();
    const ws = new WebSocket(`${url}/rtc?access_token=${encodeURIComponent(token)}&auto_subscribe=1&protocol=17&sdk=go&version=strand-bot`);
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer) => this.onSignal(livekit.SignalResponse.decode(data)));
    ws.on('error', (err) => this.errors.push(`ws: ${err.message}`));
    const connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.identity}: not connected within ${timeoutMs} ms`)), timeoutMs);
      this.onSubscriberConnected = () => {
        clearTimeout(timer);
        resolve();
      };
      ws.once('close', (code) => reject(new Error(`${this.identity}: signal closed (${code}) while joining`)));
    });
    const join = await this.next('join', timeoutMs);
    this.joinMs = nowMs() - this.connectStarted;
    this.participantSid = join.join?.participant?.sid ?? '';
    this.timers.push(setInterval(() => this.send({ pingReq: { timestamp: Date.now() } }), 5000));
    await connected;
  }

  private onSubscriberConnected: () => void = () => undefined;

  private send(req: livekit.ISignalRequest): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(livekit.SignalRequest.encode(req).finish());
  }

  private next(kind: string, timeoutMs: number): Promise<livekit.SignalResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.identity}: no ${kind} within ${timeoutMs} ms`)), timeoutMs);
      const list = this.waiters.get(kind) ?? [];
      list.push((msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
      this.waiters.set(kind, list);
    });
  }

  private onSignal(msg: livekit.SignalResponse): void {
    const kind = msg.message ?? '';
    const waiter = this.waiters.get(kind)?.shift();
    if (waiter) waiter(msg);
    try {
      if (kind === 'offer') this.onSubscriberOffer(msg.offer!.sdp ?? '');
      else if (kind === 'answer') this.pub?.setRemoteDescription(msg.answer!.sdp ?? '', 'answer');
      else if (kind === 'trickle') this.onTrickle(msg.trickle!);
    } catch (err) {
      this.errors.push(`${kind}: ${(err as Error).message}`);
    }
  }

  private onTrickle(t: livekit.ITrickleRequest): void {
    const init = JSON.parse(t.candidateInit ?? '{}') as { candidate?: string; sdpMid?: string };
    if (!init.candidate) return;
    const pc = t.target === livekit.SignalTarget.SUBSCRIBER ? this.sub : this.pub;
    if (t.target === livekit.SignalTarget.SUBSCRIBER && !this.sub?.remoteDescription()) {
      this.pendingCandidates.push(init.candidate);
      return;
    }
    pc?.addRemoteCandidate(init.candidate, init.sdpMid ?? '0');
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
        if (state === 'connected') {
          if (this.connectedMs < 0) this.connectedMs = nowMs() - this.connectStarted;
          this.onSubscriberConnected();
        }
      });
      pc.onTrack((track) => this.onSubscribedTrack(track));
      // Held until closed: a wrapper collected before its close callback crashes libdatachannel's cleanup.
      pc.onDataChannel((dc) => this.channels.push(dc));
    }
    this.sub.setRemoteDescription(sdp, 'offer');
    for (const c of this.pendingCandidates.splice(0)) this.sub.addRemoteCandidate(c, '0');
  }

  private onSubscribedTrack(track: nodeDataChannel.Track): void {
    this.subTracks.push(track);
    const h = this.header;
    track.onMessage((buf) => {
      const b1 = buf[1]!;
      if (b1 >= 192 && b1 <= 223) return; // RTCP
      if (!parseRtpHeader(buf, buf.length, h)) return;
      const audio = h.payloadType === AUDIO_PT;
      if (!audio && h.payloadType !== VIDEO_PT) return; // RTX and others
      let meter = this.received.get(h.ssrc);
      if (!meter) {
        meter = new TrackMeter(audio ? 'audio' : 'video');
        this.received.set(h.ssrc, meter);
      }
      const at = h.payloadOffset + (audio ? AUDIO_STAMP_OFFSET : VIDEO_STAMP_OFFSET);
      const latency = at + 8 <= buf.length ? nowMs() - buf.readDoubleBE(at) : -1;
      meter.onPacket(h.sequenceNumber, buf.length, latency);
    });
  }

  /** Sends a PLI for every video track received (as a decoder that lost its picture would). */
  sendPli(): number {
    let sent = 0;
    for (const track of this.subTracks) {
      for (const [ssrc, meter] of this.received) {
        if (meter.kind !== 'video') continue;
        const pli = Buffer.alloc(12);
        pli[0] = 0x81;
        pli[1] = 206;
        pli.writeUInt16BE(2, 2);
        pli.writeUInt32BE(0x5eed, 4);
        pli.writeUInt32BE(ssrc, 8);
        try {
          if (track.isOpen() && track.sendMessageBinary(pli)) sent++;
        } catch {
          // a track of another kind or not open: try the next
        }
      }
    }
    return sent;
  }

  /** Announces and publishes synthetic tracks; resolves once they are being sent. */
  async publish(opts: PublishOptions, timeoutMs = 20_000): Promise<string[]> {
    const pc = new nodeDataChannel.PeerConnection(`${this.identity}-pub`, { iceServers: [], bindAddress: '127.0.0.1' });
    this.pub = pc;
    pc.onStateChange((state) => {
      if (state === 'failed') this.errors.push('publisher connection failed');
    });
    const kinds: Array<'audio' | 'video'> = [...(opts.audio ? ['audio' as const] : []), ...(opts.video ? ['video' as const] : [])];
    const opened: Promise<void>[] = [];
    const sids: string[] = [];
    for (const [i, kind] of kinds.entries()) {
      const mid = String(i);
      const cid = `${this.identity}-${kind}`;
      const ssrc = (Math.random() * 0xffffffff) >>> 0;
      const media = kind === 'audio' ? new nodeDataChannel.Audio(mid, 'SendOnly') : new nodeDataChannel.Video(mid, 'SendOnly');
      if (kind === 'audio') (media as nodeDataChannel.Audio).addOpusCodec(AUDIO_PT);
      else (media as nodeDataChannel.Video).addVP8Codec(VIDEO_PT);
      media.addSSRC(ssrc, this.identity, `${this.identity}-stream`, cid);
      media.parseSdpLine(`a=extmap:${EXT_MID_ID} ${EXT_MID_URI}`);
      if (kind === 'audio') media.parseSdpLine(`a=extmap:${EXT_AUDIO_LEVEL_ID} ${EXT_AUDIO_LEVEL_URI}`);
      const track = pc.addTrack(media);
      const stream = new SyntheticStream(kind, ssrc, mid, kind === 'audio' ? 80 : PACKET_PAYLOAD);
      this.pubTracks.push({ track, stream });
      opened.push(new Promise((resolve) => track.onOpen(() => resolve())));
      track.onMessage((buf) => {
        // Keyframe requests from the SFU: PLI (PSFB 206 FMT 1) or FIR (FMT 4), possibly compound.
        for (let off = 0; off + 4 <= buf.length;) {
          const fmt = buf[off]! & 0x1f;
          if (buf[off + 1] === 206 && (fmt === 1 || fmt === 4)) {
            this.plisReceived++;
            stream.requestKeyframe();
          }
          off += 4 * (((buf[off + 2]! << 8) | buf[off + 3]!) + 1);
        }
      });
      this.send({ addTrack: {
        cid, name: kind, type: kind === 'audio' ? livekit.TrackType.AUDIO : livekit.TrackType.VIDEO,
        source: kind === 'audio' ? livekit.TrackSource.MICROPHONE : livekit.TrackSource.CAMERA,
        width: kind === 'video' ? 1280 : 0, height: kind === 'video' ? 720 : 0,
      } });
      const published = await this.next('trackPublished', timeoutMs);
      sids.push(published.trackPublished?.track?.sid ?? '');
    }
    await new Promise<void>((resolve) => {
      pc.onGatheringStateChange((s) => { if (s === 'complete') resolve(); });
      pc.setLocalDescription('offer');
    });
    this.send({ offer: { type: 'offer', sdp: pc.localDescription()!.sdp, id: 1 } });
    await withTimeout(Promise.all(opened), timeoutMs, `${this.identity}: tracks did not open`);
    this.startSending(opts.videoBitrate ?? 600_000);
    return sids;
  }

  private startSending(videoBitrate: number): void {
    for (const { track, stream } of this.pubTracks) {
      const send = (pkt: Buffer) => {
        try {
          if (track.isOpen()) track.sendMessageBinary(pkt);
        } catch (err) {
          this.errors.push(`send: ${(err as Error).message}`);
        }
      };
      if (stream.kind === 'audio') {
        this.timers.push(setInterval(() => send(stream.audioPacket()), 20));
      } else {
        const frameMs = 1000 / 30;
        const perFrame = Math.max(1, Math.round(videoBitrate / 8 / 30 / PACKET_PAYLOAD));
        this.timers.push(setInterval(() => { for (const p of stream.videoFrame(perFrame, frameMs)) send(p); }, frameMs));
      }
    }
  }

  /** Packets this bot has sent, per kind. */
  sent(): { audio: number; video: number } {
    let audio = 0;
    let video = 0;
    for (const { stream } of this.pubTracks) {
      if (stream.kind === 'audio') audio += stream.packets;
      else video += stream.packets;
    }
    return { audio, video };
  }

  /**
   * Stops sending, leaves, and closes the connections; resolves once libdatachannel reported
   * them closed (nodeDataChannel.cleanup() before that crashes the process).
   */
  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.send({ leave: { reason: livekit.DisconnectReason.CLIENT_INITIATED } });
    this.ws?.terminate();
    const closing = [this.pub, this.sub].filter((pc): pc is nodeDataChannel.PeerConnection => pc !== null).map((pc) => new Promise<void>((resolve) => {
      if (pc.state() === 'closed') return resolve();
      pc.onStateChange((state) => { if (state === 'closed') resolve(); });
      pc.close();
    }));
    await withTimeout(Promise.all(closing), 2000, '').catch(() => undefined);
    this.pub = null;
    this.sub = null;
  }
}
