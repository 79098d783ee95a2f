// Headless Debian Chromium driven by playwright-core, with livekit-client bundled by esbuild
// and served from a local page (getUserMedia needs a secure context: http://127.0.0.1 is one).
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { bundleLivekitClient } from '../../scripts/bundle-client.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BUNDLE = join(ROOT, 'test/.tmp/livekit-client.js');
export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
];

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>strand e2e</title>
<script src="/livekit-client.js"></script></head><body></body></html>`;

export interface TestBrowser {
  context: BrowserContext;
  /** A page with livekit-client loaded; `initScript` runs before any of the page's own scripts. */
  newPage(initScript?: string): Promise<Page>;
  close(): Promise<void>;
}

let bundled: Promise<void> | null = null;

export async function launchBrowser(extraArgs: string[] = []): Promise<TestBrowser> {
  bundled ??= existsSync(BUNDLE) ? Promise.resolve() : bundleLivekitClient(BUNDLE);
  await bundled;
  const js = readFileSync(BUNDLE);
  const server: Server = createServer((req, res) => {
    if (req.url === '/livekit-client.js') {
      res.writeHead(200, { 'content-type': 'application/javascript' }).end(js);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
  const profile = mkdtempSync(join(tmpdir(), 'strand-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS, ...extraArgs],
  });
  return {
    context,
    async newPage(initScript?: string) {
      const page = await context.newPage();
      if (initScript) await page.addInitScript(initScript);
      page.on('console', (m) => {
        if (process.env.STRAND_TEST_DEBUG) console.log(`[browser] ${m.type()}: ${m.text()}`);
      });
      await page.goto(origin);
      await page.waitForFunction(() => typeof (globalThis as { LivekitClient?: unknown }).LivekitClient === 'object');
      return page;
    },
    async close() {
      await context.close().catch(() => undefined);
      server.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
