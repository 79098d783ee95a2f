// The composite filter graphs Strand gives ffmpeg, run by Debian's ffmpeg on generated inputs
// (two test pictures, two tones): every layout is a graph ffmpeg accepts and renders at the
// requested size, and the speaker layouts take the command that switches the speaker.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { EgressJob, Layout } from '../../src/workers/egress/egress-protocol.js';
import { compositeFilter, hasSpeakerSwitch, speakerCommand } from '../../src/workers/egress/ffmpeg-args.js';
import { probe } from '../helpers/media-probe.js';

const dir = mkdtempSync(join(tmpdir(), 'strand-graph-'));
/** One input with the streams an SDP of two participants would have: v:0, v:1, a:0, a:1. */
const SOURCES = 'testsrc=s=320x240:r=15[out0];testsrc2=s=320x180:r=15[out1];sine=f=440:r=48000[out2];sine=f=660:r=48000[out3]';

function job(layout: Layout): EgressJob {
  const input = (kind: 'audio' | 'video', identity: string) => ({
    trackSid: `TR_${kind}${identity}`, participantIdentity: identity, kind, mimeType: kind === 'audio' ? 'audio/opus' : 'video/VP8',
    clockRate: kind === 'audio' ? 48000 : 90000, fromSlot: 0, relayId: 1, layer: -1,
  });
  return {
    egressId: 'EG_graph', mode: 'composite', layout, audioOnly: false, videoOnly: false,
    inputs: [input('video', 'a'), input('audio', 'a'), input('video', 'b'), input('audio', 'b')], speakerIdentity: 'b',
    video: { width: 640, height: 360, framerate: 15, bitrateKbps: 500, keyFrameInterval: 0, codec: 'h264-main' },
    audio: { codec: 'aac', bitrateKbps: 64, frequency: 44100 }, outputs: [], x264Preset: 'ultrafast',
  };
}

/** Runs the graph on 3 s of input, in real time; `commands` are typed on ffmpeg's stdin after 1 s. */
function render(j: EgressJob, out: string, commands: string[]): Promise<{ code: number | null; stderr: string }> {
  const { graph } = compositeFilter(j, 0);
  const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'info', '-nostats', '-y', '-re', '-f', 'lavfi', '-i', SOURCES, '-t', '3',
    '-filter_complex', graph, '-map', '[vout]', '-map', '[aout]', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-t', '3', out],
  { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  setTimeout(() => {
    for (const c of commands) child.stdin.write(`c${c}\n`);
  }, 1000);
  return new Promise((resolve) => child.once('close', (code) => {
    child.stdin.destroy();
    resolve({ code, stderr });
  }));
}

for (const layout of ['grid', 'speaker', 'single-speaker'] as Layout[]) {
  test(`the ${layout} graph renders 640×360 video and mixed audio`, { timeout: 30_000 }, async () => {
    const j = job(layout);
    const out = join(dir, `${layout}.mp4`);
    const switches = hasSpeakerSwitch(j) ? [speakerCommand(0)] : [];
    const { code, stderr } = await render(j, out, switches);
    assert.equal(code, 0, stderr.slice(-2000));
    if (switches.length) assert.match(stderr, /Command reply for stream 0: ret:0/, 'the speaker switch is accepted');
    const p = await probe(out);
    const v = p.streams.find((s) => s.codec_type === 'video')!;
    assert.deepEqual([v.codec_name, v.width, v.height], ['h264', 640, 360]);
    assert.ok(p.streams.some((s) => s.codec_name === 'aac'));
    assert.ok(p.duration >= 2.5, `duration ${p.duration}`);
  });
}
