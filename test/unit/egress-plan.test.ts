// Egress requests read into plans: the SDK's doubled single output read once, presets and
// advanced options, passthrough rules, and the clear refusals (cloud storage, web egress,
// custom templates, WebSocket outputs).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { livekit } from '../../src/proto/index.js';
import { TwirpError } from '../../src/main/api/twirp.js';
import { encodingOf, olderOutputs, planRoomComposite, planStart, planTrack, planWeb } from '../../src/main/egress/egress-plan.js';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof TwirpError) return err.code;
    throw err;
  }
  return 'ok';
}

test('a single output sent both in the deprecated field and in the list is read once', () => {
  const file = { filepath: 'a.mp4' };
  assert.equal(olderOutputs({ file, fileOutputs: [file] }).length, 1);
  assert.equal(olderOutputs({ file }).length, 1, 'the deprecated field alone still counts');
  assert.equal(olderOutputs({ stream: { urls: ['rtmp://x/live/k'] }, streamOutputs: [{ urls: ['rtmp://x/live/k'] }] }).length, 1);
  assert.equal(code(() => olderOutputs({ fileOutputs: [file, file] })), 'invalid_argument');
  assert.equal(olderOutputs({ imageOutputs: [{ captureInterval: 5 }, { captureInterval: 10 }] }).length, 2, 'images may repeat');
});

test('presets and advanced options give the encoder settings; PASSTHROUGH gives none', () => {
  const d = encodingOf(undefined, undefined)!;
  assert.deepEqual([d.video.width, d.video.height, d.video.framerate, d.video.bitrateKbps, d.video.codec], [1280, 720, 30, 3000, 'h264-main']);
  assert.equal(d.audio.codec, 'aac');
  const p = encodingOf(livekit.EncodingOptionsPreset.PORTRAIT_H264_1080P_60, null)!;
  assert.deepEqual([p.video.width, p.video.height, p.video.framerate, p.video.bitrateKbps], [1080, 1920, 60, 6000]);
  const a = encodingOf(null, { width: 641, height: 361, framerate: 15, videoBitrate: 800, audioCodec: livekit.AudioCodec.OPUS, keyFrameInterval: 2, videoCodec: livekit.VideoCodec.H264_HIGH })!;
  assert.deepEqual([a.video.width, a.video.height, a.video.framerate, a.video.bitrateKbps, a.video.keyFrameInterval, a.video.codec, a.audio.codec],
    [640, 360, 15, 800, 2, 'h264-high', 'opus'], 'odd sizes rounded down to even');
  assert.equal(encodingOf(livekit.EncodingOptionsPreset.PASSTHROUGH, null), null);
  assert.equal(code(() => encodingOf(null, { width: 10000 })), 'invalid_argument');
});

test('track egress: a file, a track id and a room; WebSocket output and cloud storage refused clearly', () => {
  const plan = planTrack({ roomName: 'r', trackId: 'TR_1', file: { filepath: '{track_id}' } });
  assert.deepEqual(plan.source, { kind: 'track', trackSid: 'TR_1' });
  assert.equal(plan.encoding, null);
  assert.equal(code(() => planTrack({ roomName: 'r', trackId: 'TR_1', websocketUrl: 'wss://x' })), 'unimplemented');
  assert.equal(code(() => planTrack({ roomName: 'r', trackId: 'TR_1', file: { s3: { bucket: 'b' } } })), 'unimplemented');
  assert.equal(code(() => planTrack({ roomName: '', trackId: 'TR_1', file: {} })), 'invalid_argument');
  assert.equal(code(() => planTrack({ roomName: 'r', trackId: 'TR_1' })), 'invalid_argument');
});

test('room composite: layouts, exclusive audio/video only, no custom templates, stream URL schemes', () => {
  const plan = planRoomComposite({ roomName: 'r', layout: 'speaker', fileOutputs: [{}] });
  assert.deepEqual(plan.source, { kind: 'room', layout: 'speaker', audioOnly: false, videoOnly: false });
  assert.equal(planRoomComposite({ roomName: 'r', fileOutputs: [{}] }).source.kind === 'room' && (planRoomComposite({ roomName: 'r', fileOutputs: [{}] }).source as { layout: string }).layout, 'grid');
  assert.equal(code(() => planRoomComposite({ roomName: 'r', layout: 'mosaic', fileOutputs: [{}] })), 'invalid_argument');
  assert.equal(code(() => planRoomComposite({ roomName: 'r', audioOnly: true, videoOnly: true, fileOutputs: [{}] })), 'invalid_argument');
  assert.equal(code(() => planRoomComposite({ roomName: 'r', customBaseUrl: 'https://x', fileOutputs: [{}] })), 'unimplemented');
  assert.equal(code(() => planRoomComposite({ roomName: 'r' })), 'invalid_argument', 'no output');
  assert.equal(code(() => planRoomComposite({ roomName: 'r', streamOutputs: [{ urls: ['http://x'] }] })), 'invalid_argument');
  assert.equal(code(() => planRoomComposite({ roomName: 'r', streamOutputs: [{ urls: ['wss://x'] }] })), 'unimplemented');
  assert.equal(code(() => planRoomComposite({ roomName: 'r', streamOutputs: [{ urls: ['rtmps://x/app/key', 'srt://x:9000'] }] })), 'ok');
  assert.equal(code(() => planWeb()), 'unimplemented');
});

test('StartEgress: template → room composite, media → tracks, passthrough for one track only', () => {
  const outputs = [{ file: { filepath: 'x' } }];
  assert.equal(planStart({ roomName: 'r', template: { layout: 'grid' }, outputs }).source.kind, 'room');
  const media = planStart({ roomName: 'r', media: { videoTrackId: 'TR_v', audio: { routes: [{ trackId: 'TR_a' }] } }, outputs });
  assert.deepEqual(media.source, { kind: 'tracks', videoTrackSid: 'TR_v', audioTrackSids: ['TR_a'], audioIdentities: [], audioAll: false });
  const pass = planStart({ roomName: 'r', media: { videoTrackId: 'TR_v' }, preset: livekit.EncodingOptionsPreset.PASSTHROUGH, outputs });
  assert.deepEqual(pass.source, { kind: 'track', trackSid: 'TR_v' });
  assert.equal(code(() => planStart({ roomName: 'r', media: { videoTrackId: 'TR_v', audio: { captureAll: true } }, preset: livekit.EncodingOptionsPreset.PASSTHROUGH, outputs })), 'invalid_argument');
  assert.equal(code(() => planStart({ roomName: 'r', web: { url: 'https://x' }, outputs })), 'unimplemented');
  assert.equal(code(() => planStart({ roomName: 'r', media: {}, outputs })), 'invalid_argument');
  assert.equal(code(() => planStart({ roomName: 'r', template: {}, outputs: [] })), 'invalid_argument');
  assert.equal(code(() => planStart({ roomName: 'r', template: {}, outputs, storage: { s3: { bucket: 'b' } } })), 'unimplemented');
  assert.equal(planStart({ roomName: 'r', template: {}, outputs, webhooks: [{ url: 'http://h', signingKey: 'k' }] }).webhooks[0]!.signingKey, 'k');
});
