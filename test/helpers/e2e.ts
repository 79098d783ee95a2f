// Shared set-up of the browser end-to-end tests: one Strand and one Chromium per test file,
// and livekit-client rooms driven in pages.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from './browser.js';
import { startStrand, type StrandProcess } from './strand-process.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

export interface E2eContext {
  readonly strand: StrandProcess;
  readonly browser: TestBrowser;
}

/** Starts Strand and Chromium before the file's tests and stops both after (Strand must exit 0). */
export function useStrandAndBrowser(opts: { workers?: number; env?: NodeJS.ProcessEnv; browserArgs?: string[]; args?: string[] } = {}): E2eContext {
  let strand: StrandProcess | undefined;
  let browser: TestBrowser | undefined;
  before(async () => {
    strand = await startStrand({ workers: opts.workers ?? 1, env: opts.env, args: opts.args });
    browser = await launchBrowser(opts.browserArgs);
  });
  after(async () => {
    await browser?.close();
    if (strand) assert.equal(await strand.stop(), 0, strand.stderr());
  });
  return {
    get strand() { return strand!; },
    get browser() { return browser!; },
  };
}

/**
 * Connects a livekit-client Room in `page` as `window.room`, attaching every subscribed track
 * to the page (muted). `options` are RoomOptions over the SDK's defaults (which connect on
 * /rtc/v1 with one PeerConnection; `singlePeerConnection: false` makes it use /rtc).
 */
export async function connectRoom(page: Page, url: string, token: string, options: Record<string, unknown> = {}): Promise<void> {
  await page.evaluate(async ({ url, token, options }) => {
    const LK = (globalThis as any).LivekitClient;
    const room = new LK.Room({ ...options });
    (globalThis as any).room = room;
    room.on(LK.RoomEvent.TrackSubscribed, (track: any) => {
      const el = track.attach();
      el.muted = true;
      (globalThis as any).document.body.appendChild(el);
    });
    await room.connect(url, token);
  }, { url, token, options });
}

/** Publishes the fake camera at 1280×720 (simulcast, as the SDK does by default). */
export async function publishCamera(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await (globalThis as any).room.localParticipant.setCameraEnabled(true, { resolution: { width: 1280, height: 720, frameRate: 30 } });
  });
}

/** Disconnects each page's room and closes the pages. */
export async function leaveAll(pages: Page[]): Promise<void> {
  for (const page of pages) {
    await page.evaluate(async () => (globalThis as any).room.disconnect());
    await page.close();
  }
}

/** Inbound RTP stats of every subscribed track: video framesDecoded and audio packetsReceived. */
export async function inboundMedia(page: Page): Promise<{ framesDecoded: number; audioPackets: number; frameWidth: number }> {
  return page.evaluate(async () => {
    const room = (globalThis as any).room;
    let framesDecoded = 0;
    let audioPackets = 0;
    let frameWidth = 0;
    for (const p of room.remoteParticipants.values()) {
      for (const pub of p.trackPublications.values()) {
        const receiver = pub.track?.receiver;
        if (!receiver) continue;
        const stats = await receiver.getStats();
        stats.forEach((s: any) => {
          if (s.type !== 'inbound-rtp') return;
          if (s.kind === 'video') {
            framesDecoded += s.framesDecoded ?? 0;
            frameWidth = Math.max(frameWidth, s.frameWidth ?? 0);
          }
          if (s.kind === 'audio') audioPackets += s.packetsReceived ?? 0;
        });
      }
    }
    return { framesDecoded, audioPackets, frameWidth };
  });
}

/** The first remote video track's inbound stats: frame width, frames decoded, freezes and NACKs sent. */
export async function remoteVideo(page: Page): Promise<{ frameWidth: number; framesDecoded: number; freezeCount: number; nackCount: number }> {
  return page.evaluate(async () => {
    const out = { frameWidth: 0, framesDecoded: 0, freezeCount: 0, nackCount: 0 };
    for (const p of (globalThis as any).room.remoteParticipants.values()) {
      for (const pub of p.trackPublications.values()) {
        if (pub.kind !== 'video' || !pub.track?.receiver) continue;
        (await pub.track.receiver.getStats()).forEach((s: any) => {
          if (s.type !== 'inbound-rtp') return;
          out.frameWidth = s.frameWidth ?? 0;
          out.framesDecoded = s.framesDecoded ?? 0;
          out.freezeCount = s.freezeCount ?? 0;
          out.nackCount = s.nackCount ?? 0;
        });
      }
    }
    return out;
  });
}
