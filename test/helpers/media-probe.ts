// What ffprobe sees in a recording: the container's duration and each stream's codec and size;
// and the luma of a video over time (ffmpeg signalstats), to tell a picture from a blank one.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Probed {
  duration: number;
  formatName: string;
  streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number }>;
}

export async function probe(path: string): Promise<Probed> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name,width,height:format=duration,format_name', '-of', 'json', path]);
  const j = JSON.parse(stdout) as { format?: { duration?: string; format_name?: string }; streams?: Probed['streams'] };
  return { duration: Number(j.format?.duration ?? 0), formatName: j.format?.format_name ?? '', streams: j.streams ?? [] };
}

/** Packets ffprobe reads from the start of a file to where it can read no further, all streams. */
export async function packetCount(path: string): Promise<number> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', path]);
  return stdout.split('\n').reduce((n, line) => n + (Number(line.trim()) || 0), 0);
}

/** Average luma (YAVG) of one frame per second of a video file. */
export async function lumaPerSecond(path: string): Promise<number[]> {
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-nostats', '-i', path, '-vf', 'fps=1,signalstats,metadata=print:key=lavfi.signalstats.YAVG', '-an', '-f', 'null', '-'],
    { maxBuffer: 16 * 1024 * 1024 });
  return [...stderr.matchAll(/lavfi\.signalstats\.YAVG=([\d.]+)/g)].map((m) => Number(m[1]));
}

/** The loudest sample of a file's audio, dB (ffmpeg volumedetect). */
export async function maxVolumeDb(path: string): Promise<number> {
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-nostats', '-i', path, '-af', 'volumedetect', '-vn', '-f', 'null', '-']);
  const m = /max_volume: (-?[\d.]+) dB/.exec(stderr);
  return m ? Number(m[1]) : -Infinity;
}
