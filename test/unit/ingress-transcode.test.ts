// What an ingress transcodes to: LiveKit's presets and explicit options resolved to layers,
// the ffmpeg command line built from them, what ffmpeg says about its input, and the tracks a
// WHIP offer sends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TwirpError } from '../../src/main/api/twirp.js';
import { simulcastLayers, transcodeSpec } from '../../src/main/ingress/encoding-presets.js';
import { offeredTracks } from '../../src/main/ingress/whip-offer.js';
import { livekit } from '../../src/proto/index.js';
import { parseInputStreams, transcodeArgs } from '../../src/workers/ingress/transcode-args.js';

test('presets: the default is H.264 720p30 in three layers, each half the one above; Opus stereo 96 kbps', () => {
  const spec = transcodeSpec({}, 'veryfast');
  assert.equal(spec.video.codec, 'h264');
  assert.equal(spec.video.frameRate, 30);
  assert.deepEqual(spec.video.layers.map((l) => `${l.width}x${l.height}`), ['320x180', '640x360', '1280x720']);
  assert.equal(spec.video.layers[2]!.bitrate, 1_900_000);
  // LiveKit's rule: bitrate scales with the area ratio to the power 0.75.
  assert.equal(spec.video.layers[1]!.bitrate, Math.round(1_900_000 * 0.25 ** 0.75));
  assert.deepEqual(spec.audio, { bitrate: 96_000, channels: 2, dtx: true });
  const mono = transcodeSpec({ audio: { preset: livekit.IngressAudioEncodingPreset.OPUS_MONO_64KBS } }, 'veryfast');
  assert.deepEqual(mono.audio, { bitrate: 64_000, channels: 1, dtx: true });
  assert.equal(simulcastLayers({ width: 960, height: 540, bitrate: 1_000_000 }, 2)[0]!.width, 480);
});

test('options: VP8 layers sorted lowest first; bad codecs, sizes and rates are refused', () => {
  const spec = transcodeSpec({ video: { options: { videoCodec: livekit.VideoCodec.VP8, frameRate: 25, layers: [
    { width: 640, height: 360, bitrate: 600_000 }, { width: 320, height: 180, bitrate: 150_000 },
  ] } } }, 'veryfast');
  assert.equal(spec.video.codec, 'vp8');
  assert.deepEqual(spec.video.layers.map((l) => l.width), [320, 640]);
  const refused = (video: livekit.IIngressVideoOptions) => assert.throws(() => transcodeSpec({ video }, 'veryfast'), TwirpError);
  refused({ options: { videoCodec: livekit.VideoCodec.H264_HIGH, layers: [{ width: 640, height: 360, bitrate: 1 }] } });
  refused({ options: { layers: [] } });
  refused({ options: { layers: [{ width: 8, height: 8, bitrate: 100 }] } });
  refused({ options: { frameRate: 500, layers: [{ width: 640, height: 360, bitrate: 100 }] } });
  assert.throws(() => transcodeSpec({ audio: { options: { audioCodec: livekit.AudioCodec.AAC } } }, 'veryfast'), TwirpError);
});

test('ffmpeg args: one RTP output per layer and for audio, with the SSRC, payload type and ports given', () => {
  const spec = transcodeSpec({}, 'veryfast');
  const video = [1, 2, 3].map((i) => ({ rtpPort: 40000 + i * 2, rtcpPort: 40001 + i * 2, ssrc: 100 + i }));
  const args = transcodeArgs({ kind: 'pipe' }, { audio: true, video: true }, spec, { audio: { rtpPort: 41000, rtcpPort: 41001, ssrc: 7 }, video });
  const joined = args.join(' ');
  assert.match(joined, /-f flv -i pipe:0/);
  assert.match(joined, /\[0:v:0\]fps=30,split=3\[s0\]\[s1\]\[s2\];\[s0\]scale=320:180/);
  assert.equal(args.filter((a) => a === 'rtp').length, 4);
  assert.deepEqual(args.filter((_, i) => args[i - 1] === '-ssrc'), ['101', '102', '103', '7']);
  assert.match(joined, /rtp:\/\/127\.0\.0\.1:41000\?rtcpport=41001&pkt_size=1200/);
  assert.match(joined, /-c:a libopus -b:a 96000 -ac 2 -ar 48000/);
  assert.match(joined, /-profile:v baseline/);
  const audioOnly = transcodeArgs({ kind: 'url', url: 'http://x/a.mp3' }, { audio: true, video: false }, spec, { audio: { rtpPort: 1, rtcpPort: 2, ssrc: 3 }, video: [] });
  assert.ok(!audioOnly.includes('-filter_complex'));
  assert.deepEqual(audioOnly.slice(audioOnly.indexOf('-re'), audioOnly.indexOf('-re') + 3), ['-re', '-i', 'http://x/a.mp3']);
});

test('ffmpeg stderr: the input streams as ffmpeg describes them', () => {
  const stderr = [
    "Input #0, flv, from 'pipe:0':",
    '  Stream #0:0: Video: h264 (Constrained Baseline), yuv420p(progressive), 640x360, 30.30 fps, 30 tbr, 1k tbn',
    '  Stream #0:1: Audio: aac (LC), 48000 Hz, mono, fltp',
    'Output #0, rtp, to ...',
    '  Stream #0:0: Video: vp8, yuv420p, 320x180, q=2-31, 30 fps',
  ].join('\n');
  assert.deepEqual(parseInputStreams(stderr), {
    video: { codec: 'h264', width: 640, height: 360, frameRate: 30.3 },
    audio: { codec: 'aac', sampleRate: 48000, channels: 1 },
  });
  assert.deepEqual(parseInputStreams('nothing'), {});
});

test('WHIP offers: sending audio and video sections become tracks (msid track id, rids); others are skipped', () => {
  const sdp = [
    'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1 2',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:0', 'a=sendonly', 'a=msid:s a1', 'a=fmtp:111 minptime=10;stereo=1',
    'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:1', 'a=sendonly', 'a=msid:s v1', 'a=rid:q send', 'a=rid:h send', 'a=rid:f send', 'a=simulcast:send q;h;f',
    'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:2', 'a=recvonly',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=mid:3', '',
  ].join('\r\n');
  assert.deepEqual(offeredTracks(sdp), [
    { kind: 'audio', cid: 'a1', mid: '0', rids: [], stereo: true },
    { kind: 'video', cid: 'v1', mid: '1', rids: ['q', 'h', 'f'], stereo: false },
  ]);
  assert.deepEqual(offeredTracks('garbage'), []);
});
