// An offer whose candidates are held back (src/loadtest/held-candidates.ts): the offer carries
// none, and its candidates, trickled after the answer, connect the two sides.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import nodeDataChannel from 'node-datachannel';
import { holdCandidates } from '../../src/loadtest/held-candidates.js';
import { withTimeout } from '../../src/loadtest/media.js';
import { releaseNodeDataChannel } from '../helpers/native-cleanup.js';

after(releaseNodeDataChannel);

function gathered(pc: nodeDataChannel.PeerConnection): Promise<void> {
  return new Promise((resolve) => {
    pc.onGatheringStateChange((s) => { if (s === 'complete') resolve(); });
    if (pc.gatheringState() === 'complete') resolve();
  });
}

test('an offer without its candidates connects once they are trickled after the answer', async () => {
  const offerer = new nodeDataChannel.PeerConnection('offerer', { iceServers: [], bindAddress: '127.0.0.1' });
  const answerer = new nodeDataChannel.PeerConnection('answerer', { iceServers: [], bindAddress: '127.0.0.1' });
  try {
    const video = new nodeDataChannel.Video('v', 'SendOnly');
    video.addVP8Codec(96);
    const track = offerer.addTrack(video);
    const opened = new Promise<void>((resolve) => track.onOpen(() => resolve()));
    offerer.setLocalDescription('offer');
    await gathered(offerer);
    const full = offerer.localDescription()!.sdp;
    assert.match(full, /a=candidate:/);

    const held = holdCandidates(full);
    assert.equal(held.mid, 'v');
    assert.ok(held.candidates.length > 0);
    for (const c of held.candidates) assert.match(c, /^candidate:\S+ 1 UDP \d+ 127\.0\.0\.1 \d+ typ host/);
    assert.doesNotMatch(held.sdp, /a=candidate:|a=end-of-candidates/);
    assert.equal(held.sdp.split('\r\n').length, full.split(/\r?\n/).length - held.candidates.length - (/a=end-of-candidates/.test(full) ? 1 : 0));

    answerer.setRemoteDescription(held.sdp, 'offer');
    await gathered(answerer);
    // The answer's candidates are held too, so that only the trickled ones can connect the two.
    offerer.setRemoteDescription(holdCandidates(answerer.localDescription()!.sdp).sdp, 'answer');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(track.isOpen(), false);
    for (const c of held.candidates) answerer.addRemoteCandidate(c, held.mid);
    await withTimeout(opened, 5000, 'the track did not open');
  } finally {
    offerer.close();
    answerer.close();
  }
});
