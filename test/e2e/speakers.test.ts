// Speaker detection: ActiveSpeakersChanged fires in the browser for a participant publishing
// Chromium's fake microphone, and not for one whose microphone is muted.
//
// The fake microphone is fed a continuous tone: its default signal is a short beep about
// once a second (loud for ~20% of each 400 ms window), which LiveKit's own defaults
// (active for ≥ 40% of the window) do not count as speech either.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { leaveAll, useStrandAndBrowser } from '../helpers/e2e.js';
import { toneWavFile } from '../helpers/tone.js';
import { joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

const wav = toneWavFile();
const ctx = useStrandAndBrowser({ browserArgs: [`--use-file-for-fake-audio-capture=${wav}`] });

async function join(page: Page, token: string): Promise<void> {
  await page.evaluate(async ({ url, token }) => {
    const LK = (globalThis as any).LivekitClient;
    const room = new LK.Room();
    const w = globalThis as any;
    w.room = room;
    w.speakersSeen = new Set<string>();
    room.on(LK.RoomEvent.ActiveSpeakersChanged, (speakers: any[]) => {
      for (const s of speakers) w.speakersSeen.add(s.identity);
    });
    await room.connect(url, token);
  }, { url: ctx.strand.url, token });
}

test('ActiveSpeakersChanged fires for the fake microphone and not for a muted one', { timeout: 90_000 }, async () => {
  const room = `speakers-${Date.now()}`;
  const [talker, muted, listener] = [await ctx.browser.newPage(), await ctx.browser.newPage(), await ctx.browser.newPage()];
  await join(talker, await joinToken(room, 'talker'));
  await join(muted, await joinToken(room, 'muted'));
  await join(listener, await joinToken(room, 'listener'));
  await muted.evaluate(async () => {
    const lp = (globalThis as any).room.localParticipant;
    await lp.setMicrophoneEnabled(true);
    await lp.setMicrophoneEnabled(false);
  });
  await talker.evaluate(async () => {
    await (globalThis as any).room.localParticipant.setMicrophoneEnabled(true);
  });
  await waitFor(() => listener.evaluate(() => (globalThis as any).speakersSeen.has('talker')), 20_000, 'the talker to become an active speaker', 250);
  // Give the muted participant the same chance to (wrongly) show up.
  await new Promise((r) => setTimeout(r, 3000));
  const seen = await listener.evaluate(() => [...(globalThis as any).speakersSeen] as string[]);
  console.log(`active speakers seen by the listener: ${seen.join(', ')}`);
  assert.ok(seen.includes('talker'));
  assert.ok(!seen.includes('muted'));
  await leaveAll([talker, muted, listener]);
});

