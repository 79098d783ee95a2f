// Receiving end of the forwarding benchmark, in its own process so that its CPU is not
// counted: answers one PeerConnection per fan-out branch and counts the RTP that arrives. For
// the fair relay it is also the publisher: it answers the relay's inbound connection and sends
// the synthetic stream on it, so that the relay receives over real SRTP as an SFU does.
import nodeDataChannel from 'node-datachannel';
import { paced } from './paced.js';
import { vp8Packet } from './vp8-packet.js';

interface Offer { id: number; sdp: string }
/** An offer's candidates, sent once its answer is applied (src/loadtest/held-candidates.ts). */
interface Candidates { id: number | 'publisher'; mid: string; list: string[] }

let publisherTrack: nodeDataChannel.Track | null = null;

/** Sends `packets` packets at `rate` per second on the publisher track, in bursts of 10. */
function pump(packets: number, rate: number): Promise<number> {
  return paced(packets, rate, 10, (j) => publisherTrack?.sendMessageBinary(vp8Packet(j, Math.floor(j / 5) * 3000, Math.floor(j / 5), j % 60 === 0)));
}

const pcs: nodeDataChannel.PeerConnection[] = [];
const byId = new Map<number | 'publisher', nodeDataChannel.PeerConnection>();
const tracks: nodeDataChannel.Track[] = [];
let received = 0;

process.on('message', (msg: { offer?: Offer; publisherOffer?: string; candidates?: Candidates; pump?: { packets: number; rate: number }; report?: boolean; stop?: boolean }) => {
  if (msg.publisherOffer) {
    const pc = new nodeDataChannel.PeerConnection('sink-publisher', { iceServers: [], bindAddress: '127.0.0.1' });
    pcs.push(pc);
    byId.set('publisher', pc);
    pc.onTrack((track) => {
      track.onOpen(() => { publisherTrack = track; });
    });
    pc.onGatheringStateChange((state) => {
      if (state === 'complete') process.send!({ publisherAnswer: pc.localDescription()!.sdp });
    });
    pc.setRemoteDescription(msg.publisherOffer, 'offer');
  }
  if (msg.pump) void pump(msg.pump.packets, msg.pump.rate).then(() => process.send!({ pumped: true }));
  if (msg.offer) {
    const { id, sdp } = msg.offer;
    const pc = new nodeDataChannel.PeerConnection(`sink-${id}`, { iceServers: [], bindAddress: '127.0.0.1' });
    pcs.push(pc);
    byId.set(id, pc);
    pc.onTrack((track) => {
      tracks.push(track);
      track.onMessage(() => { received++; });
    });
    pc.onGatheringStateChange((state) => {
      if (state === 'complete') process.send!({ answer: { id, sdp: pc.localDescription()!.sdp } });
    });
    pc.setRemoteDescription(sdp, 'offer');
  }
  if (msg.candidates) {
    const { id, mid, list } = msg.candidates;
    for (const c of list) byId.get(id)?.addRemoteCandidate(c, mid);
  }
  if (msg.report) process.send!({ received });
  if (msg.stop) {
    for (const pc of pcs) pc.close();
    setTimeout(() => {
      nodeDataChannel.cleanup();
      process.exit(0);
    }, 200);
  }
});
