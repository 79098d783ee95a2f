// Where an egress writes: LiveKit's filename templates ({room_name}, {time}, {track_id}, …),
// its defaults for an empty path or a directory, extensions corrected to the container, all
// under egress.output_dir (a request cannot write outside it).
import { isAbsolute, join, relative, resolve } from 'node:path';
import { TwirpError } from '../api/twirp.js';

export interface TemplateValues {
  roomName: string;
  roomId: string;
  /** Publisher of a track egress, or the participant of a participant egress. */
  identity: string;
  trackId: string;
  /** AUDIO / VIDEO. */
  trackType: string;
  /** CAMERA, MICROPHONE, … */
  trackSource: string;
  now: Date;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** LiveKit's {time}: 2006-01-02T150405 (UTC here). */
export function timeStamp(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}

export function expandTemplate(template: string, v: TemplateValues): string {
  const values: Record<string, string> = {
    room_name: v.roomName, room_id: v.roomId, time: timeStamp(v.now), utc: String(Math.floor(v.now.getTime() / 1000)),
    publisher_identity: v.identity, track_id: v.trackId, track_type: v.trackType, track_source: v.trackSource,
  };
  return template.replace(/\{([a-z_]+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** Characters that make a bad file name on any common system. */
const sanitize = (s: string): string => s.replace(/[\\:*?"<>|\x00-\x1f]/g, '_');

/**
 * The absolute path of a file output. An empty path, or one ending in "/", gets
 * `<stem>-{time}`; the extension is always the container's.
 */
export function resolveOutputPath(baseDir: string, filepath: string, stem: string, ext: string, v: TemplateValues): string {
  let path = expandTemplate(filepath, v);
  if (path === '' || path.endsWith('/')) path += `${sanitize(stem)}-${timeStamp(v.now)}`;
  path = sanitize(path);
  if (ext) {
    const dot = path.lastIndexOf('.');
    const slash = path.lastIndexOf('/');
    if (dot > slash + 1) path = path.slice(0, dot);
    path += ext;
  }
  return insideBase(baseDir, path);
}

/** A path resolved against the output directory; refused when it would leave it. */
export function insideBase(baseDir: string, path: string): string {
  const base = resolve(baseDir);
  const full = isAbsolute(path) ? resolve(path) : resolve(join(base, path));
  const rel = relative(base, full);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new TwirpError('invalid_argument', `output path "${path}" is outside egress.output_dir (${base})`);
  }
  return full;
}

/** Extension of a track egress file from the track's codec (LiveKit: Opus → Ogg, VP8/VP9 → WebM, H.264 → MP4). */
export function trackContainer(mimeType: string): 'ogg' | 'webm' | 'mp4' | null {
  const m = mimeType.toLowerCase();
  if (m === 'audio/opus') return 'ogg';
  if (m === 'video/vp8' || m === 'video/vp9' || m === 'video/av1') return 'webm';
  if (m === 'video/h264') return 'mp4';
  return null;
}
