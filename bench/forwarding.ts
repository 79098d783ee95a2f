// Forwarding cost, SFU logic vs a plain relay, at a given fan-out: the same synthetic VP8
// stream is sent to N real node-datachannel connections (SRTP + sendto, receivers in another
// process), once through a relay that only rewrites the SSRC and once through Strand's
// Receiver → DownTrack path (layer selection, sequence/timestamp/picture-id munging, packet
// cache and sequencer). Reports forwarded packets per CPU-second of this process.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import nodeDataChannel from 'node-datachannel';
import { RtpHeader, parseRtpHeader, writeU32 } from '../src/rtp/packet.js';
import { DownTrack } from '../src/workers/media/down-track.js';
import { Receiver, type RtcpSink } from '../src/workers/media/receiver.js';
import { RingWriter, createDoorbell, createRing } from '../src/workers/ring-channel.js';
import { Worker } from 'node:worker_threads';
import { holdCandidates } from '../src/loadtest/held-candidates.js';
import { paced } from './paced.js';
import { vp8Packet } from './vp8-packet.js';

export interface ForwardingResult {
  /**
   * relay: packets made in this process, SSRC rewritten, sent (no receive); fair-relay: the same,
   * but the packets arrive over a real SRTP connection from the publisher and every receiver's
   * connection also carries a data channel, as an SFU's do; sfu+tap: the SFU path with every
   * packet also written into an egress ring (a recording).
   */
  mode: 'relay' | 'fair-relay' | 'sfu' | 'sfu+tap';
  fanout: number;
  packetsIn: number;
  packetsForwarded: number;
  cpuSeconds: number;
  wallSeconds: number;
  packetsPerCpuSecond: number;
  delivered: number;
}

async function connect(fanout: number, dataChannels = false): Promise<{
  pcs: nodeDataChannel.PeerConnection[]; tracks: nodeDataChannel.Track[]; channels: nodeDataChannel.DataChannel[]; sink: ReturnType<typeof fork>;
}> {
  const sink = fork(fileURLToPath(new URL('./sink.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pcs: nodeDataChannel.PeerConnection[] = [];
  const tracks: nodeDataChannel.Track[] = [];
  const channels: nodeDataChannel.DataChannel[] = [];
  const opened: Promise<void>[] = [];
  const answers = new Map<number, (sdp: string) => void>();
  sink.on('message', (m: { answer?: { id: number; sdp: string } }) => {
    if (m.answer) answers.get(m.answer.id)?.(m.answer.sdp);
  });
  for (let i = 0; i < fanout; i++) {
    const pc = new nodeDataChannel.PeerConnection(`out-${i}`, { iceServers: [], bindAddress: '127.0.0.1' });
    const video = new nodeDataChannel.Video('v', 'SendOnly');
    video.addVP8Codec(96);
    const track = pc.addTrack(video);
    opened.push(new Promise((resolve) => track.onOpen(() => resolve())));
    if (dataChannels) channels.push(pc.createDataChannel('_reliable'));
    pcs.push(pc);
    tracks.push(track);
    const answer = new Promise<string>((resolve) => answers.set(i, resolve));
    await new Promise<void>((resolve) => {
      pc.onGatheringStateChange((s) => { if (s === 'complete') resolve(); });
      pc.setLocalDescription('offer');
      // A data channel starts the negotiation on its own: gathering may be complete already.
      if (pc.gatheringState() === 'complete') resolve();
    });
    const offer = holdCandidates(pc.localDescription()!.sdp);
    sink.send({ offer: { id: i, sdp: offer.sdp } });
    pc.setRemoteDescription(await answer, 'answer');
    sink.send({ candidates: { id: i, mid: offer.mid, list: offer.candidates } });
  }
  await Promise.race([Promise.all(opened), new Promise((_, reject) => setTimeout(() => reject(new Error('tracks did not open')), 15000))]);
  return { pcs, tracks, channels, sink };
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

/** Sends `request` to the sink and resolves with the first reply `pick` finds a value in. */
function ask<T>(sink: ReturnType<typeof fork>, request: object, pick: (m: Record<string, unknown>) => T | undefined): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: Record<string, unknown>) => {
      const v = pick(m);
      if (v === undefined) return;
      sink.off('message', on);
      resolve(v);
    };
    sink.on('message', on);
    sink.send(request);
  });
}

function delivered(sink: ReturnType<typeof fork>): Promise<number> {
  return ask(sink, { report: true }, (m) => m.received as number | undefined);
}

/** Sends `packets` packets at about `rate` packets/s through `forward`, in bursts of 50. */
function pump(packets: number, rate: number, forward: (pkt: Buffer, i: number) => void): Promise<number> {
  return paced(packets, rate, 50, (j) => forward(vp8Packet(j, Math.floor(j / 5) * 3000, Math.floor(j / 5), j === 0), j));
}

export async function runForwarding(fanout: number, packets: number, rate: number, modes: Array<ForwardingResult['mode']> = ['relay', 'sfu']): Promise<ForwardingResult[]> {
  const { pcs, tracks, channels, sink } = await connect(fanout, modes.includes('fair-relay'));
  const results: ForwardingResult[] = [];
  try {
    if (modes.includes('relay')) {
      // Plain relay: rewrite the SSRC per branch and send.
      const before = await delivered(sink);
      const cpu = process.cpuUsage();
      const wall = await pump(packets, rate, (pkt) => {
        for (let t = 0; t < tracks.length; t++) {
          writeU32(pkt, 8, 0x1000 + t);
          tracks[t]!.sendMessageBinary(pkt);
        }
      });
      const used = cpuSeconds(cpu);
      await new Promise((r) => setTimeout(r, 500));
      results.push({ mode: 'relay', fanout, packetsIn: packets, packetsForwarded: packets * fanout, cpuSeconds: used, wallSeconds: wall,
        packetsPerCpuSecond: (packets * fanout) / used, delivered: (await delivered(sink)) - before });
    }
    if (modes.includes('fair-relay')) results.push(await fairRelayRun(pcs, tracks, sink, fanout, packets, rate));
    if (modes.includes('sfu')) results.push(await sfuRun(tracks, sink, fanout, packets, rate, false));
    if (modes.includes('sfu+tap')) results.push(await sfuRun(tracks, sink, fanout, packets, rate, true));
  } finally {
    sink.send({ stop: true });
    // Channels and tracks first, then their connections, and time for libdatachannel to report
    // them closed: releasing the library (cleanup()) under live callbacks crashes the process.
    for (const dc of channels) dc.close();
    for (const t of tracks) t.close();
    for (const pc of pcs) pc.close();
    await new Promise((r) => setTimeout(r, channels.length > 0 ? 1500 : 300));
  }
  return results;
}

/** `p`, or an error naming `what` after `ms`: a baseline that cannot connect fails, it does not hang. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`fair relay: ${what} took over ${ms} ms`)), ms).unref())]);
}

/**
 * The fair relay: the publisher (the sink process) sends over its own SRTP connection; each
 * packet that arrives is SSRC-rewritten and sent to every receiver. Its inbound connection is
 * kept in `pcs` so that it is closed with the others.
 */
async function fairRelayRun(pcs: nodeDataChannel.PeerConnection[], tracks: nodeDataChannel.Track[], sink: ReturnType<typeof fork>, fanout: number, packets: number, rate: number): Promise<ForwardingResult> {
  const pc = new nodeDataChannel.PeerConnection('in', { iceServers: [], bindAddress: '127.0.0.1' });
  pcs.push(pc);
  const video = new nodeDataChannel.Video('v', 'RecvOnly');
  video.addVP8Codec(96);
  const inbound = pc.addTrack(video);
  const open = new Promise<void>((resolve) => inbound.onOpen(() => resolve()));
  await new Promise<void>((resolve) => {
    pc.onGatheringStateChange((st) => { if (st === 'complete') resolve(); });
    pc.setLocalDescription('offer');
  });
  const offer = holdCandidates(pc.localDescription()!.sdp);
  const answer = ask(sink, { publisherOffer: offer.sdp }, (m) => m.publisherAnswer as string | undefined);
  pc.setRemoteDescription(await within(answer, 10_000, 'the publisher\'s answer'), 'answer');
  sink.send({ candidates: { id: 'publisher', mid: offer.mid, list: offer.candidates } });
  await within(open, 10_000, 'the inbound track to open');
  await new Promise((r) => setTimeout(r, 300)); // the sink's side of the track opens too
  let forwarded = 0;
  inbound.onMessage((msg) => {
    const pkt = msg as Buffer;
    if (pkt.length < 12 || (pkt[1]! >= 192 && pkt[1]! <= 223)) return; // RTCP
    for (let t = 0; t < tracks.length; t++) {
      writeU32(pkt, 8, 0x5000 + t);
      tracks[t]!.sendMessageBinary(pkt);
    }
    forwarded += tracks.length;
  });
  const before = await delivered(sink);
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await within(ask(sink, { pump: { packets, rate } }, (m) => (m.pumped ? true : undefined)), (packets / rate) * 1000 + 10_000, 'the publisher\'s stream');
  await new Promise((r) => setTimeout(r, 200));
  const used = cpuSeconds(cpu);
  const wall = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 300));
  return { mode: 'fair-relay', fanout, packetsIn: packets, packetsForwarded: forwarded, cpuSeconds: used, wallSeconds: wall,
    packetsPerCpuSecond: forwarded / used, delivered: (await delivered(sink)) - before };
}

/**
 * Strand's path: header parse + extension lookup, Receiver, DownTracks; with `tap`, also the
 * write of each packet into a ring that a worker thread drains, as an egress worker does. The
 * drain thread's own CPU is not counted: it is the egress worker's, not the forwarding path's.
 */
async function sfuRun(tracks: nodeDataChannel.Track[], sink: ReturnType<typeof fork>, fanout: number, packets: number, rate: number, tap: boolean): Promise<ForwardingResult> {
  const rtcp: RtcpSink = { sendRtcp: () => undefined, rtcpSenderSsrc: 1 };
  const receiver = new Receiver('TR_bench', 'PA_bench', 'video', 'video/VP8', 90000, undefined, undefined, ['q', 'h', 'f'], rtcp);
  // Each run its own SSRCs: SRTP refuses a sender whose sequence numbers go back on an SSRC
  // an earlier run used on the same connection.
  const ssrcBase = tap ? 0x100 : 0;
  const downTracks = tracks.map((t, i) => {
    const dt = new DownTrack('TR_bench', 0x2000 + ssrcBase + i, 96, true, 90000, receiver, { ssrc: 0x3000 + ssrcBase + i, payloadType: 97 });
    dt.setTransport(t);
    return dt;
  });
  for (const dt of downTracks) receiver.addDownTrack(dt);
  let drain: Worker | null = null;
  if (tap) {
    const ring = createRing(4 * 1024 * 1024);
    const doorbell = createDoorbell();
    drain = new Worker(new URL('./ring-drain.js', import.meta.url), { workerData: { ring, doorbell } });
    await new Promise((r) => setTimeout(r, 200));
    receiver.relays.push({ writer: new RingWriter(ring, doorbell), relayId: 1, layer: 2 });
  }
  const h = new RtpHeader();
  const before = await delivered(sink);
  const cpu = process.cpuUsage();
  const wall = await pump(packets, rate, (pkt) => {
    if (!parseRtpHeader(pkt, pkt.length, h)) return;
    receiver.onPacket(pkt, pkt.length, h.payloadOffset, pkt.length - h.paddingLength, h.sequenceNumber, h.timestamp, 2, performance.now());
  });
  let used = cpuSeconds(cpu);
  if (drain) {
    const report = new Promise<{ records: number; cpuSeconds: number }>((resolve) => drain!.once('message', resolve));
    drain.postMessage('stop');
    const drained = await report;
    used -= drained.cpuSeconds;
    if (drained.records !== packets) throw new Error(`the tap ring delivered ${drained.records} of ${packets} packets`);
    await drain.terminate();
  }
  await new Promise((r) => setTimeout(r, 500));
  const forwarded = downTracks.reduce((n, dt) => n + dt.packetsSent, 0);
  return { mode: tap ? 'sfu+tap' : 'sfu', fanout, packetsIn: packets, packetsForwarded: forwarded, cpuSeconds: used, wallSeconds: wall,
    packetsPerCpuSecond: forwarded / used, delivered: (await delivered(sink)) - before };
}
