// An encoder for ingress tests: ffmpeg sending a test pattern with a tone, at its own pace
// (-re), to an RTMP URL. The child is killed when the test is done with it.
import { spawn, type ChildProcess } from 'node:child_process';

export interface Pusher {
  child: ChildProcess;
  /** Resolves with the exit code and the end of stderr. */
  exited: Promise<{ code: number | null; stderr: string }>;
  kill(): void;
}

export function pushRtmp(url: string, seconds: number, size = '640x360'): Pusher {
  const child = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'warning', '-nostdin', '-re',
    '-f', 'lavfi', '-i', `testsrc=size=${size}:rate=30`, '-f', 'lavfi', '-i', 'sine=sample_rate=48000:frequency=440',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '30',
    '-c:a', 'aac', '-f', 'flv', url,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr = (stderr + c).slice(-4000); });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    child.once('close', (code) => resolve({ code, stderr }));
  });
  return { child, exited, kill: () => { if (child.exitCode === null) child.kill('SIGKILL'); } };
}
