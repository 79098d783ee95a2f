// One RTP stream from an ingress transcoder to the media worker: the loopback sockets ffmpeg
// sends its RTP and RTCP to, and the ring records they become (RTP packets as they came,
// sender reports as NTP + RTP time, for lip sync downstream). Nothing per packet but the ring
// write: Node's datagram socket hands each packet over in a buffer of its own.
import { createSocket, type Socket } from 'node:dgram';
import { REC_RTP, REC_SENDER_REPORT, type RingWriter } from '../ring-channel.js';
import type { RtpTarget } from './transcode-args.js';

const RTCP_SR = 200;

function bind(socket: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket.address().port);
    });
  });
}

export class RtpOutput {
  private readonly rtp = createSocket('udp4');
  private readonly rtcp = createSocket('udp4');
  private readonly srRecord = Buffer.alloc(12);
  private started = false;
  packets = 0;
  target: RtpTarget = { rtpPort: 0, rtcpPort: 0, ssrc: 0 };

  constructor(
    private readonly writer: RingWriter,
    readonly relayId: number,
    readonly layer: number,
    ssrc: number,
    /** The first packet arrived (the track can be published). */
    private readonly onFirstPacket: () => void,
    onError: (err: Error) => void,
  ) {
    this.target.ssrc = ssrc;
    this.rtp.on('error', onError);
    this.rtcp.on('error', onError);
    this.rtp.on('message', (msg: Buffer) => this.onRtp(msg));
    this.rtcp.on('message', (msg: Buffer) => this.onRtcp(msg));
  }

  async open(): Promise<RtpTarget> {
    this.target.rtpPort = await bind(this.rtp);
    this.target.rtcpPort = await bind(this.rtcp);
    return this.target;
  }

  private onRtp(msg: Buffer): void {
    if (msg.length < 12 || (msg[0]! >> 6) !== 2) return;
    this.packets++;
    this.writer.write(REC_RTP, this.layer, this.relayId, msg, msg.length);
    if (!this.started) {
      this.started = true;
      this.onFirstPacket();
    }
  }

  private onRtcp(msg: Buffer): void {
    // A compound packet starts with the SR: header, sender SSRC, NTP time, RTP time.
    if (msg.length < 28 || msg[1] !== RTCP_SR) return;
    msg.copy(this.srRecord, 0, 8, 20);
    this.writer.write(REC_SENDER_REPORT, this.layer, this.relayId, this.srRecord, 12);
  }

  close(): void {
    for (const s of [this.rtp, this.rtcp]) {
      try {
        s.close();
      } catch {
        // not bound yet, or closed
      }
    }
  }
}
