// Join time of real browsers: livekit-client in headless Chromium joins a room N times in a row,
// each time measuring from room.connect() (and from its signal socket opening) to its first
// PeerConnection reaching "connected". With the SDK's defaults (v1, one PeerConnection) or with
// singlePeerConnection: false (v0, /rtc). `--url` measures a server that is already running
// (an older build, another SFU); otherwise Strand is started for the run.
import { launchBrowser } from '../test/helpers/browser.js';
import { PROBE_SCRIPT, quantile, readProbe } from '../test/helpers/page-probes.js';
import { startStrand, type StrandProcess } from '../test/helpers/strand-process.js';
import { joinToken } from '../test/helpers/tokens.js';

export interface BrowserJoinResult {
  mode: 'default' | 'v0';
  server: string;
  joins: number;
  failed: number;
  /** room.connect() called → first PeerConnection connected, ms. */
  connectP50Ms: number;
  connectP99Ms: number;
  /** The signal socket that carried the session opened → first PeerConnection connected, ms. */
  socketP50Ms: number;
  socketP99Ms: number;
  /** Per join, on average. */
  socketsPerJoin: number;
  peerConnectionsPerJoin: number;
  /** The path of the socket the session ran on (last join). */
  signalPath: string;
}

export async function runBrowserJoin(opts: { joins: number; v0: boolean; url?: string; onProgress: (line: string) => void }): Promise<BrowserJoinResult> {
  let strand: StrandProcess | null = null;
  const url = opts.url ?? (strand = await startStrand({ workers: 1 })).url;
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage(PROBE_SCRIPT);
    const connect: number[] = [];
    const socket: number[] = [];
    let sockets = 0;
    let pcs = 0;
    let failed = 0;
    let signalPath = '';
    const room = `browser-join-${Date.now()}`;
    for (let i = 0; i < opts.joins; i++) {
      const before = await readProbe(page);
      const startedAt = await page.evaluate(async ({ url, token, v0 }) => {
        /* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */
        const LK = (globalThis as any).LivekitClient;
        const r = new LK.Room(v0 ? { singlePeerConnection: false } : {});
        const t = performance.now();
        try {
          await r.connect(url, token);
          return t;
        } catch {
          return -1;
        } finally {
          await r.disconnect();
        }
      }, { url, token: await joinToken(room, `joiner-${i}`), v0: opts.v0 });
      const after = await readProbe(page);
      const newSockets = after.sockets.slice(before.sockets.length);
      const newPcs = after.pcs.slice(before.pcs.length);
      sockets += newSockets.length;
      pcs += newPcs.length;
      const connectedAt = Math.min(...newPcs.map((p) => p.connectedAt).filter((t) => t > 0));
      const session = newSockets.filter((s) => s.openedAt > 0).at(-1);
      if (startedAt < 0 || !Number.isFinite(connectedAt) || !session) {
        failed++;
        continue;
      }
      signalPath = new URL(session.url).pathname;
      connect.push(connectedAt - startedAt);
      socket.push(connectedAt - session.openedAt);
    }
    opts.onProgress(`${opts.joins} joins, ${failed} failed`);
    return {
      mode: opts.v0 ? 'v0' : 'default', server: opts.url ?? 'strand (this build)', joins: opts.joins, failed,
      connectP50Ms: quantile(connect, 0.5), connectP99Ms: quantile(connect, 0.99),
      socketP50Ms: quantile(socket, 0.5), socketP99Ms: quantile(socket, 0.99),
      socketsPerJoin: sockets / opts.joins, peerConnectionsPerJoin: pcs / opts.joins, signalPath,
    };
  } finally {
    await browser.close();
    await strand?.stop();
  }
}
