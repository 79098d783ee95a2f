// Bundles livekit-client for the browser end-to-end tests (an IIFE exposing `LivekitClient`).
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export async function bundleLivekitClient(outFile: string): Promise<void> {
  mkdirSync(dirname(outFile), { recursive: true });
  await build({
    stdin: { contents: "export * from 'livekit-client';", resolveDir: dirname(require.resolve('livekit-client')), loader: 'js' },
    bundle: true,
    format: 'iife',
    globalName: 'LivekitClient',
    platform: 'browser',
    target: 'chrome120',
    outfile: outFile,
    logLevel: 'warning',
  });
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  await bundleLivekitClient(join(process.cwd(), 'test/.tmp/livekit-client.js'));
}
