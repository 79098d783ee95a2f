// A WHIP encoder in a Chromium page: its fake camera and microphone offered (sendonly, with
// every candidate: WHIP has no trickle) to a WHIP URL with a stream key, and the answer applied.
import type { Page } from 'playwright-core';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

export interface WhipResult {
  status: number;
  location: string | null;
  /** The answer (201), or the error text. */
  body: string;
}

export function whipPublish(page: Page, url: string, streamKey: string): Promise<WhipResult> {
  return page.evaluate(async ({ url, key }) => {
    const g = globalThis as any;
    const pc = new g.RTCPeerConnection();
    g.pc = pc;
    const stream = await g.navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360, frameRate: 30 } });
    for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly' });
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise<void>((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
    });
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${key}` }, body: pc.localDescription.sdp });
    const body = await res.text();
    if (res.status === 201) await pc.setRemoteDescription({ type: 'answer', sdp: body });
    return { status: res.status, location: res.headers.get('location'), body };
  }, { url, key: streamKey });
}
