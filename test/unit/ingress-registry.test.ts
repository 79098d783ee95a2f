// Ingress endpoints apart from media: ids, stream keys, URLs, transcoding defaults,
// and the refusals LiveKit makes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TwirpError } from '../../src/main/api/twirp.js';
import { IngressRegistry } from '../../src/main/ingress/ingress-registry.js';
import { livekit } from '../../src/proto/index.js';

const urls = { rtmpBaseUrl: 'rtmp://127.0.0.1:1935/live', whipBaseUrl: 'http://127.0.0.1:7880/w' };

test('RTMP and WHIP endpoints get an IN_ id, a stream key and the base URL; URL input neither key nor reuse', () => {
  const r = new IngressRegistry(() => urls);
  const rtmp = r.create({ roomName: 'r', participantIdentity: 'obs' });
  assert.match(rtmp.ingressId!, /^IN_[2-9A-HJ-NP-Za-km-z]{12}$/);
  assert.match(rtmp.streamKey!, /^[2-9A-HJ-NP-Za-km-z]{12}$/);
  assert.equal(rtmp.url, urls.rtmpBaseUrl);
  assert.equal(rtmp.enableTranscoding, true);
  assert.equal(rtmp.reusable, true);
  assert.equal(rtmp.state?.status, livekit.IngressState.Status.ENDPOINT_INACTIVE);
  const whip = r.create({ inputType: livekit.IngressInput.WHIP_INPUT, roomName: 'r', participantIdentity: 'w' });
  assert.equal(whip.enableTranscoding, false, 'WHIP passes through by default');
  const pull = r.create({ inputType: livekit.IngressInput.URL_INPUT, url: 'https://example.com/a.mp4', roomName: 'r', participantIdentity: 'u' });
  assert.deepEqual([pull.streamKey, pull.reusable, pull.url], ['', false, 'https://example.com/a.mp4']);
  assert.equal(r.byStreamKey(rtmp.streamKey!)?.ingressId, rtmp.ingressId);
  assert.equal(r.byStreamKey('nope'), null);
});

test('refusals: no room, no identity, RTMP without transcoding, a URL input without a URL', () => {
  const r = new IngressRegistry(() => urls);
  const code = (fn: () => unknown) => {
    try { fn(); } catch (err) { return err instanceof TwirpError ? err.code : 'other'; }
    return 'ok';
  };
  assert.equal(code(() => r.create({ participantIdentity: 'x' })), 'invalid_argument');
  assert.equal(code(() => r.create({ roomName: 'r' })), 'invalid_argument');
  assert.equal(code(() => r.create({ roomName: 'r', participantIdentity: 'x', enableTranscoding: false })), 'invalid_argument');
  assert.equal(code(() => r.create({ inputType: livekit.IngressInput.URL_INPUT, roomName: 'r', participantIdentity: 'x', url: 'file:///etc/passwd' })), 'invalid_argument');
  assert.equal(code(() => r.get('IN_missing')), 'not_found');
  assert.equal(code(() => r.create({ inputType: livekit.IngressInput.WHIP_INPUT, roomName: 'r', participantIdentity: 'x', enableTranscoding: true })), 'unimplemented');
  assert.equal(code(() => r.create({ roomName: 'r', participantIdentity: 'x', bypassTranscoding: true })), 'invalid_argument');
});

test('a disabled ingress keeps its key (the manager refuses its encoders); delete forgets the key', () => {
  const r = new IngressRegistry(() => urls);
  const info = r.create({ roomName: 'r', participantIdentity: 'obs' });
  r.update({ ingressId: info.ingressId, enabled: false });
  assert.equal(r.byStreamKey(info.streamKey!)?.enabled, false);
  r.update({ ingressId: info.ingressId, enabled: true, name: 'stage' });
  assert.equal(r.byStreamKey(info.streamKey!)?.name, 'stage');
  r.delete(info.ingressId!);
  assert.equal(r.byStreamKey(info.streamKey!), null);
  assert.deepEqual(r.list({ roomName: '', ingressId: '' }), []);
});
