// Where egress output goes (templates, defaults, extensions, the output directory), how layouts
// place videos, and the ffmpeg command lines and SDP each output gets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TwirpError } from '../../src/main/api/twirp.js';
import { expandTemplate, resolveOutputPath, timeStamp, trackContainer } from '../../src/main/egress/output-paths.js';
import type { EgressJob } from '../../src/workers/egress/egress-protocol.js';
import { compositeArgs, compositeFilter, copyArgs, hasSpeakerSwitch, speakerCommand } from '../../src/workers/egress/ffmpeg-args.js';
import { layoutCells } from '../../src/workers/egress/layout.js';
import { rtpEncodingName, rtpInputSdp } from '../../src/workers/ffmpeg/rtp-input.js';

const now = new Date(Date.UTC(2026, 11, 1, 9, 5, 7));
const values = { roomName: 'standup', roomId: 'RM_1', identity: 'alice', trackId: 'TR_9', trackType: 'VIDEO', trackSource: 'CAMERA', now };

test('filename templates, LiveKit\'s {time}, and defaults for an empty path or a directory', () => {
  assert.equal(timeStamp(now), '2026-12-01T090507');
  assert.equal(expandTemplate('{room_name}/{publisher_identity}-{track_id}-{track_type}-{track_source}-{unknown}', values), 'standup/alice-TR_9-VIDEO-CAMERA-{unknown}');
  assert.equal(resolveOutputPath('/out', '{room_name}/{track_id}', 'TR_9', '.webm', values), '/out/standup/TR_9.webm');
  assert.equal(resolveOutputPath('/out', '', 'standup', '.mp4', values), '/out/standup-2026-12-01T090507.mp4');
  assert.equal(resolveOutputPath('/out', 'rooms/', 'standup', '.mp4', values), '/out/rooms/standup-2026-12-01T090507.mp4');
  assert.equal(resolveOutputPath('/out', 'take.mkv', 'x', '.mp4', values), '/out/take.mp4', 'the extension is the container\'s');
  assert.equal(resolveOutputPath('/out', '/out/abs/a', 'x', '.ogg', values), '/out/abs/a.ogg');
});

test('output paths cannot leave the output directory', () => {
  for (const bad of ['../escape', '/etc/passwd', 'a/../../b']) {
    assert.throws(() => resolveOutputPath('/out', bad, 'x', '.mp4', values), (err: unknown) => err instanceof TwirpError && err.code === 'invalid_argument', bad);
  }
});

test('track egress containers follow the codec, as LiveKit\'s', () => {
  assert.equal(trackContainer('audio/opus'), 'ogg');
  assert.equal(trackContainer('video/VP8'), 'webm');
  assert.equal(trackContainer('video/H264'), 'mp4');
  assert.equal(trackContainer('audio/PCMU'), null);
});

test('layouts: grid cells tile the canvas; speaker puts one large; single-speaker shows one', () => {
  const grid = layoutCells('grid', 4, 1280, 720);
  assert.deepEqual(grid, [{ x: 0, y: 0, w: 640, h: 360 }, { x: 640, y: 0, w: 640, h: 360 }, { x: 0, y: 360, w: 640, h: 360 }, { x: 640, y: 360, w: 640, h: 360 }]);
  const three = layoutCells('grid', 3, 1280, 720);
  assert.equal(three[2]!.x, 320, 'a short last row is centred');
  const speaker = layoutCells('speaker', 3, 1280, 720, 1);
  assert.deepEqual(speaker[1], { x: 0, y: 0, w: 1024, h: 720 });
  assert.equal(speaker[0]!.x, 1024);
  assert.equal(speaker[2]!.y, speaker[0]!.h);
  const single = layoutCells('single-speaker', 3, 1280, 720, 2);
  assert.deepEqual(single.map((c) => c !== null), [false, false, true]);
  for (const c of [...grid, ...three, ...speaker]) for (const v of Object.values(c!)) assert.equal(v % 2, 0, 'even sizes and offsets for yuv420p');
});

test('the SDP ffmpeg reads: one section per track on 127.0.0.1', () => {
  const sdp = rtpInputSdp([
    { kind: 'video', port: 30000, payloadType: 96, encoding: rtpEncodingName('video/VP8'), clockRate: 90000 },
    { kind: 'audio', port: 30002, payloadType: 111, encoding: rtpEncodingName('audio/opus'), clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' },
  ]);
  assert.match(sdp, /c=IN IP4 127\.0\.0\.1\r\n/);
  assert.match(sdp, /m=video 30000 RTP\/AVP 96\r\na=rtpmap:96 VP8\/90000\r\n/);
  assert.match(sdp, /m=audio 30002 RTP\/AVP 111\r\na=rtpmap:111 opus\/48000\/2\r\na=fmtp:111 minptime=10;useinbandfec=1/);
});

function job(over: Partial<EgressJob> = {}): EgressJob {
  const input = (kind: 'audio' | 'video', identity: string) => ({
    trackSid: `TR_${kind}${identity}`, participantIdentity: identity, kind, mimeType: kind === 'audio' ? 'audio/opus' : 'video/VP8',
    clockRate: kind === 'audio' ? 48000 : 90000, fromSlot: 0, relayId: 1, layer: -1,
  });
  return {
    egressId: 'EG_x', mode: 'composite', layout: 'grid', audioOnly: false, videoOnly: false,
    inputs: [input('video', 'a'), input('audio', 'a'), input('video', 'b'), input('audio', 'b')], speakerIdentity: '',
    video: { width: 1280, height: 720, framerate: 30, bitrateKbps: 3000, keyFrameInterval: 0, codec: 'h264-main' },
    audio: { codec: 'aac', bitrateKbps: 128, frequency: 44100 }, outputs: [], x264Preset: 'veryfast', ...over,
  };
}

test('composite filter: a canvas, each video placed, audio mixed; audio-only has no video', () => {
  const f = compositeFilter(job(), 100);
  assert.match(f.graph, /color=c=black:s=1280x720:r=30\[base0\]/);
  assert.match(f.graph, /\[0:v:0\]setpts=PTS-100\/TB,scale=640:720/);
  assert.match(f.graph, /overlay=x=640:y=0/);
  assert.match(f.graph, /amix=inputs=2/);
  const audio = compositeFilter(job({ audioOnly: true }), 100);
  assert.equal(audio.video, false);
  assert.doesNotMatch(audio.graph, /color=|overlay/);
  const empty = compositeFilter(job({ inputs: [] }), 100);
  assert.match(empty.graph, /realtime\[base0\].*anullsrc/, 'an empty room is a clock-paced black picture and silence');
});

test('ffmpeg command lines: copy for track egress, H.264/AAC for MP4, RTMP and HLS', () => {
  const copy = copyArgs('/t/in.sdp', { kind: 'file', path: '/o/a.webm', container: 'webm' });
  assert.deepEqual(copy.slice(-11), ['-map', '0', '-c', 'copy', '-flush_packets', '1', '-cluster_time_limit', '2000', '-f', 'webm', '/o/a.webm']);
  assert.ok(copy.includes('-listen_timeout'), 'a muted track does not end the recording');
  const mp4 = compositeArgs('/t/in.sdp', job(), { kind: 'file', path: '/o/a.mp4', container: 'mp4' }, 1);
  assert.ok(mp4.includes('libx264') && mp4.includes('aac') && mp4.at(-1) === '/o/a.mp4');
  assert.equal(mp4[mp4.indexOf('-preset') + 1], 'veryfast');
  const rtmp = compositeArgs('/t/in.sdp', job({ video: { ...job().video, codec: 'vp8' } }), { kind: 'stream', url: 'rtmp://h/live/k' }, 1);
  assert.ok(rtmp.includes('libx264') && rtmp.includes('flv'), 'RTMP is always H.264 + AAC');
  assert.equal(rtmp[rtmp.indexOf('-g') + 1], '120', 'keyframes every 4 s when streaming');
  const hls = compositeArgs('/t/in.sdp', job(), { kind: 'segments', playlistPath: '/o/p.m3u8', livePlaylistPath: '', segmentPattern: '/o/p_%05d.ts', segmentSeconds: 2, timestampSuffix: false }, 1);
  assert.equal(hls[hls.indexOf('-hls_time') + 1], '2');
  assert.equal(hls[hls.indexOf('-g') + 1], '60', 'a keyframe starts every segment');
  assert.throws(() => copyArgs('/t/in.sdp', { kind: 'stream', url: 'rtmp://x' }));
  const images = compositeArgs('/t/in.sdp', job(), { kind: 'images', pattern: '/o/t_%05d.jpeg', prefix: '/o/t', intervalSeconds: 5, width: 320, height: 180 }, 1);
  const graph = images[images.indexOf('-filter_complex') + 1]!;
  assert.match(graph, /\[vout\]fps=1\/5,scale=320:180\[img\]$/, 'thumbnails come out of the graph (ffmpeg takes no -vf there)');
  assert.doesNotMatch(graph, /amix|aout/, 'and without audio');
  assert.ok(!images.includes('-vf'));
});

test('the speaker layouts pick the large picture with a streamselect the speaker command switches', () => {
  const speaker = compositeFilter(job({ layout: 'speaker', speakerIdentity: 'b' }), 0);
  assert.match(speaker.graph, /\[m0\]\[m1\]streamselect@speaker=inputs=2:map=1\[main\]/);
  assert.match(speaker.graph, /split=2/, 'every video is also a thumbnail');
  assert.equal(speakerCommand(0), 'streamselect@speaker -1 map 0');
  const single = compositeFilter(job({ layout: 'single-speaker' }), 0);
  assert.match(single.graph, /streamselect@speaker=inputs=2:map=0/);
  assert.doesNotMatch(single.graph, /split/);
  assert.equal(hasSpeakerSwitch(job({ layout: 'grid' })), false);
  assert.equal(hasSpeakerSwitch(job({ layout: 'speaker', audioOnly: true })), false);
});
