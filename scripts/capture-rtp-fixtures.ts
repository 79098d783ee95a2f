// Captures real RTP packets from Chromium (VP8 and H.264, fake camera) into
// test/fixtures/rtp-<codec>.hex, one packet per line (hex, cut to the first 200 bytes: RTP
// header, extensions and the start of the payload, which is what keyframe detection reads),
// for the keyframe detection tests.
//   npx tsx scripts/capture-rtp-fixtures.ts
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import nodeDataChannel from 'node-datachannel';
import { chromium } from 'playwright-core';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection'];

async function capture(codec: 'VP8' | 'H264', count: number): Promise<string[]> {
  const ctx = await chromium.launchPersistentContext('', { executablePath: '/usr/bin/chromium', headless: true, args: FLAGS });
  const page = await ctx.newPage();
  // getUserMedia needs a secure context: http://127.0.0.1 is one, about:blank is not.
  const server = createServer((_, res) => res.end('<html><body></body></html>'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await page.goto(`http://127.0.0.1:${port}/`);
  /* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */
  const offer = await page.evaluate(async (codec) => {
    const w = globalThis as any;
    const pc = new w.RTCPeerConnection();
    w.pc = pc;
    const stream = await w.navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 } });
    const tr = pc.addTransceiver(stream.getVideoTracks()[0], { direction: 'sendonly' });
    const caps = w.RTCRtpSender.getCapabilities('video').codecs
      .filter((c: any) => c.mimeType === `video/${codec}` && (codec !== 'H264' || /packetization-mode=1/.test(c.sdpFmtpLine ?? '')));
    tr.setCodecPreferences(caps.slice(0, 1));
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => setTimeout(r, 500));
    return pc.localDescription.sdp as string;
  }, codec);
  const packets: string[] = [];
  const done = new Promise<void>((resolve) => {
    const pc = new nodeDataChannel.PeerConnection('capture', { iceServers: [], bindAddress: '127.0.0.1' });
    pc.onTrack((track) => {
      track.onMessage((buf) => {
        if (buf[1]! >= 192 && buf[1]! <= 223) return; // RTCP
        if (packets.length < count) packets.push(buf.subarray(0, 200).toString('hex'));
        if (packets.length === count) { pc.close(); resolve(); }
      });
    });
    pc.onLocalDescription((sdp, type) => {
      if (type === 'answer') void page.evaluate(async (sdp) => (globalThis as any).pc.setRemoteDescription({ type: 'answer', sdp }), sdp);
    });
    pc.setRemoteDescription(offer, 'offer');
  });
  await done;
  await ctx.close();
  server.close();
  return packets;
}

const out = join(import.meta.dirname, '..', 'test', 'fixtures');
for (const codec of ['VP8', 'H264'] as const) {
  const packets = await capture(codec, 200);
  const header = `# ${codec} RTP from Chromium's fake camera (640x360), first ${packets.length} packets, each cut to 200 bytes\n`;
  writeFileSync(join(out, `rtp-${codec.toLowerCase()}.hex`), `${header}${packets.join('\n')}\n`);
  console.log(`${codec}: ${packets.length} packets`);
}
nodeDataChannel.cleanup();
