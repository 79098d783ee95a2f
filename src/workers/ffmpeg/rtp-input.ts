// The loopback RTP input of an ffmpeg child: free UDP ports, and the SDP that tells ffmpeg what
// arrives on each. Each stream gets an even port and the odd one above it (ffmpeg binds both:
// RTP and RTCP), on 127.0.0.1 only.
import { createSocket } from 'node:dgram';

export interface RtpStream {
  kind: 'audio' | 'video';
  port: number;
  payloadType: number;
  /** RTP encoding name: opus, VP8, VP9, H264. */
  encoding: string;
  clockRate: number;
  channels?: number;
  fmtp?: string;
}

/** The SDP of streams sent to 127.0.0.1 on their ports (ffmpeg's `-f sdp` input). */
export function rtpInputSdp(streams: RtpStream[]): string {
  const lines = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=Strand', 'c=IN IP4 127.0.0.1', 't=0 0'];
  for (const s of streams) {
    lines.push(`m=${s.kind} ${s.port} RTP/AVP ${s.payloadType}`);
    lines.push(`a=rtpmap:${s.payloadType} ${s.encoding}/${s.clockRate}${s.channels ? `/${s.channels}` : ''}`);
    if (s.fmtp) lines.push(`a=fmtp:${s.payloadType} ${s.fmtp}`);
    lines.push('a=recvonly');
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** The encoding name RTP uses for a mime type ("video/VP8" → "VP8", "audio/opus" → "opus"). */
export function rtpEncodingName(mimeType: string): string {
  const sub = mimeType.slice(mimeType.indexOf('/') + 1);
  return sub.toLowerCase() === 'opus' ? 'opus' : sub.toUpperCase();
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => { s.close(); resolve(false); });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

// Below Linux's ephemeral range (32768+), where browsers' and clients' own sockets land.
/**
 * Resolves once something (the ffmpeg child) has bound every port, so that the first packets
 * sent, a keyframe among them, are not lost to a socket that does not exist yet.
 */
export async function waitUntilBound(ports: number[], timeoutMs: number, stillWaiting: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let pending = [...ports];
  while (pending.length > 0 && Date.now() < deadline && stillWaiting()) {
    const next: number[] = [];
    for (const p of pending) if (await canBind(p)) next.push(p);
    pending = next;
    if (pending.length > 0) await new Promise((r) => setTimeout(r, 25));
  }
  return pending.length === 0;
}

const PORT_MIN = 30_000;
const PORT_MAX = 32_766;
/** Ports handed out recently, not offered again while their ffmpeg may still be binding them. */
const recent = new Set<number>();

/** An even port P with P and P+1 free on 127.0.0.1 (checked by binding; ffmpeg binds them next). */
export async function freeRtpPort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_MIN + 2 * Math.floor(Math.random() * ((PORT_MAX - PORT_MIN) / 2));
    if (recent.has(port)) continue;
    if (await canBind(port) && await canBind(port + 1)) {
      recent.add(port);
      setTimeout(() => recent.delete(port), 30_000).unref();
      return port;
    }
  }
  throw new Error('no free UDP port pair for ffmpeg on 127.0.0.1');
}
