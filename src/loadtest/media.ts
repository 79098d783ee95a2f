// The media side of a benchmark bot, whatever server it talks to: synthetic tracks it
// publishes (and the keyframe requests it gets for them), and the tracks it receives, measured
// per SSRC: packets, bytes, loss from sequence gaps, one-way latency from the send time stamped
// in each payload.
import nodeDataChannel from 'node-datachannel';
import { RtpHeader, parseRtpHeader } from '../rtp/packet.js';
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

const LATENCY_SAMPLES = 5000;
const PACKET_PAYLOAD = 1100;

/** `p`, or a rejection with `message` after `ms` (the timer does not outlive `p`). */
export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class TrackMeter {
  packets = 0;
  bytes = 0;
  /** Sequence numbers never seen (gaps). */
  lost = 0;
  /** One-way latencies, ms (a bounded sample). */
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

export interface PublishedTrack {
  kind: 'audio' | 'video';
  /** Client track id (AddTrack cid, msid track id). */
  cid: string;
  track: nodeDataChannel.Track;
  stream: SyntheticStream;
}

export class BotMedia {
  /** Received tracks by SSRC. */
  readonly received = new Map<number, TrackMeter>();
  /** Keyframe requests (PLI/FIR) the server sent for this bot's video. */
  plisReceived = 0;
  readonly errors: string[] = [];
  private readonly subscribed: nodeDataChannel.Track[] = [];
  private readonly published: PublishedTrack[] = [];
  private timers: NodeJS.Timeout[] = [];
  private readonly header = new RtpHeader();

  constructor(private readonly identity: string) {}

  /** Measures what arrives on a received track (kept referenced: libdatachannel needs that). */
  receive(track: nodeDataChannel.Track): void {
    this.subscribed.push(track);
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
    for (const track of this.subscribed) {
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
          // a track of another kind, or not open: the next one
        }
      }
    }
    return sent;
  }

  /** Adds sendonly synthetic tracks (with the mid, and audio-level, header extensions) to `pc`. */
  addTracks(pc: nodeDataChannel.PeerConnection, opts: PublishOptions): PublishedTrack[] {
    const kinds: Array<'audio' | 'video'> = [...(opts.audio ? ['audio' as const] : []), ...(opts.video ? ['video' as const] : [])];
    const added: PublishedTrack[] = [];
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
      track.onMessage((buf) => {
        // Keyframe requests: PLI (PSFB 206 FMT 1) or FIR (FMT 4), possibly in a compound packet.
        for (let off = 0; off + 4 <= buf.length;) {
          const fmt = buf[off]! & 0x1f;
          if (buf[off + 1] === 206 && (fmt === 1 || fmt === 4)) {
            this.plisReceived++;
            stream.requestKeyframe();
          }
          off += 4 * (((buf[off + 2]! << 8) | buf[off + 3]!) + 1);
        }
      });
      const p = { kind, cid, track, stream };
      this.published.push(p);
      added.push(p);
    }
    return added;
  }

  /** Resolves when every published track is open. */
  opened(timeoutMs: number): Promise<unknown> {
    return withTimeout(Promise.all(this.published.map(({ track }) => new Promise<void>((resolve) => {
      if (track.isOpen()) resolve();
      else track.onOpen(() => resolve());
    }))), timeoutMs, `${this.identity}: tracks did not open`);
  }

  /** Sends audio every 20 ms and video at 30 frames/s and `videoBitrate`. */
  startSending(videoBitrate: number): void {
    for (const { track, stream } of this.published) {
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

  /** Packets sent so far. */
  sent(): number {
    let n = 0;
    for (const { stream } of this.published) n += stream.packets;
    return n;
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}

/** Closes peer connections and resolves once libdatachannel reported them closed (at most `ms`). */
export async function closeConnections(pcs: Array<nodeDataChannel.PeerConnection | null>, ms = 2000): Promise<void> {
  const closing = pcs.filter((pc): pc is nodeDataChannel.PeerConnection => pc !== null).map((pc) => new Promise<void>((resolve) => {
    if (pc.state() === 'closed') return resolve();
    pc.onStateChange((state) => { if (state === 'closed') resolve(); });
    pc.close();
  }));
  await withTimeout(Promise.all(closing), ms, '').catch(() => undefined);
}
