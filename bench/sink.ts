// Receiving end of the forwarding benchmark, in its own process so that its CPU is not
// counted: answers one PeerConnection per fan-out branch and counts the RTP that arrives.
import nodeDataChannel from 'node-datachannel';

interface Offer { id: number; sdp: string }

const pcs: nodeDataChannel.PeerConnection[] = [];
const tracks: nodeDataChannel.Track[] = [];
let received = 0;

process.on('message', (msg: { offer?: Offer; report?: boolean; stop?: boolean }) => {
  if (msg.offer) {
    const { id, sdp } = msg.offer;
    const pc = new nodeDataChannel.PeerConnection(`sink-${id}`, { iceServers: [], bindAddress: '127.0.0.1' });
    pcs.push(pc);
    pc.onTrack((track) => {
      tracks.push(track);
      track.onMessage(() => { received++; });
    });
    pc.onGatheringStateChange((state) => {
      if (state === 'complete') process.send!({ answer: { id, sdp: pc.localDescription()!.sdp } });
    });
    pc.setRemoteDescription(sdp, 'offer');
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
