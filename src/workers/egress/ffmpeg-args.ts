// The ffmpeg command line of each output of an egress. Every output is its own ffmpeg child
// reading the egress's tracks from loopback RTP (one SDP per child): an output added while
// live (UpdateStream) then needs no change to the others, and a receiver that fails ends only
// its own child.
//
// Track egress copies the packets into a container (no decoding). Composites decode, place
// the videos on a black canvas with `overlay`, mix the audio with `amix` and encode; inputs
// are timed by arrival (wall clock) relative to the child's start, so tracks that start late
// or arrive with unrelated RTP clocks still line up.
import type { EgressJob, EgressOutput } from './egress-protocol.js';
import { layoutCells, speakerCells } from './layout.js';

// Probing is short (1 s): the SDP names every codec, and a video's first packet starts a
// keyframe, which gives its size. Until probing ends ffmpeg writes nothing.
const INPUT_ARGS = ['-hide_banner', '-loglevel', 'warning', '-nostats', '-y',
  '-protocol_whitelist', 'file,udp,rtp', '-reorder_queue_size', '256', '-analyzeduration', '1000000',
  // A muted track sends nothing: by default ffmpeg would end the recording after 10 s of it
  // (a day, not more: larger values overflow inside ffmpeg 5.1 and it receives nothing).
  '-listen_timeout', '86400', '-f', 'sdp'];

/** The filter instance that picks the speaker's video (its `map` command switches it). */
export const SPEAKER_FILTER = 'streamselect@speaker';

/** The ffmpeg command (typed after `c` on its stdin) that shows video `index` as the speaker. */
export function speakerCommand(index: number): string {
  return `${SPEAKER_FILTER} -1 map ${index}`;
}

/** Whether a job's graph has a switchable speaker (speakerCommand applies). */
export function hasSpeakerSwitch(job: EgressJob): boolean {
  return job.mode === 'composite' && !job.audioOnly && inputLayout(job).videos.length >= 2 && (job.layout === 'speaker' || job.layout === 'single-speaker');
}

/** The container format ffmpeg is told for a file. */
const FILE_FORMAT: Record<string, string> = { mp4: 'mp4', webm: 'webm', ogg: 'ogg', mp3: 'mp3' };

export interface InputLayout {
  /** Index among the job's inputs of each video and audio stream, in SDP order. */
  videos: number[];
  audios: number[];
}

/** Videos and audios of a job, in the order the SDP lists them (videos first). */
export function inputLayout(job: EgressJob): InputLayout {
  const videos: number[] = [];
  const audios: number[] = [];
  job.inputs.forEach((input, i) => {
    if (input.kind === 'video' && !job.audioOnly) videos.push(i);
    if (input.kind === 'audio' && !job.videoOnly) audios.push(i);
  });
  return { videos, audios };
}

/** A track egress: the one track's packets into its container as they are. */
export function copyArgs(sdpPath: string, output: EgressOutput): string[] {
  if (output.kind !== 'file') throw new Error('track egress writes files only');
  // Written packet by packet (WebM in 2 s clusters, Ogg in 200 ms pages): if Strand dies, what
  // was recorded until then is on disk.
  const cluster = output.container === 'webm' ? ['-cluster_time_limit', '2000'] : output.container === 'ogg' ? ['-page_duration', '200000'] : [];
  return [...INPUT_ARGS, '-i', sdpPath, '-map', '0', '-c', 'copy', '-flush_packets', '1', ...cluster, '-f', FILE_FORMAT[output.container]!, output.path];
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(6);
}

/** The filter graph of a composite: [vout] and/or [aout]. */
export function compositeFilter(job: EgressJob, startSeconds: number): { graph: string; video: boolean; audio: boolean } {
  const { videos, audios } = inputLayout(job);
  const parts: string[] = [];
  const { width: W, height: H, framerate: R } = job.video;
  const t0 = fmt(startSeconds);
  const video = !job.audioOnly;
  const audio = !job.videoOnly;
  if (video) {
    // The canvas. With videos on it, overlay paces it by their frames (which carry their arrival
    // time since the egress started, so the frames ffmpeg buffered while it probed its input
    // are not lost); alone, it is paced by the clock.
    parts.push(`color=c=black:s=${W}x${H}:r=${R}${videos.length === 0 ? ',realtime' : ''}[base0]`);
    const speaker = Math.max(0, videos.findIndex((i) => job.inputs[i]!.participantIdentity === job.speakerIdentity));
    const timed = (k: number) => `[0:v:${k}]setpts=PTS-${t0}/TB`;
    const fit = (w: number, h: number) => `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1`;
    let base = 'base0';
    let n = 0;
    const place = (label: string, x: number, y: number) => {
      const next = `base${++n}`;
      parts.push(`[${base}][${label}]overlay=x=${x}:y=${y}:eof_action=pass:repeatlast=1[${next}]`);
      base = next;
    };
    if (videos.length >= 2 && (job.layout === 'speaker' || job.layout === 'single-speaker')) {
      // The large picture is a streamselect over every video, switched while it runs
      // (SPEAKER_FILTER's `map` command): the layout follows the active speaker.
      const single = job.layout === 'single-speaker';
      const cells = single ? { main: { x: 0, y: 0, w: W - (W % 2), h: H - (H % 2) }, side: [] } : speakerCells(videos.length, W, H);
      videos.forEach((_, k) => {
        if (single) {
          parts.push(`${timed(k)},${fit(cells.main.w, cells.main.h)}[m${k}]`);
          return;
        }
        parts.push(`${timed(k)},split=2[s${k}][t${k}]`);
        parts.push(`[s${k}]${fit(cells.main.w, cells.main.h)}[m${k}]`);
        const side = cells.side[k];
        if (side) parts.push(`[t${k}]${fit(side.w, side.h)}[tf${k}]`);
        else parts.push(`[t${k}]nullsink`);
      });
      parts.push(`${videos.map((_, k) => `[m${k}]`).join('')}${SPEAKER_FILTER}=inputs=${videos.length}:map=${speaker}[main]`);
      place('main', cells.main.x, cells.main.y);
      cells.side.forEach((cell, k) => { if (cell) place(`tf${k}`, cell.x, cell.y); });
    } else {
      layoutCells(job.layout, videos.length, W, H, speaker).forEach((cell, k) => {
        // A video the layout does not show is left out of the graph (and so never decoded).
        if (!cell) return;
        parts.push(`${timed(k)},${fit(cell.w, cell.h)}[v${k}]`);
        place(`v${k}`, cell.x, cell.y);
      });
    }
    parts.push(`[${base}]format=yuv420p[vout]`);
  }
  if (audio) {
    if (audios.length === 0) {
      parts.push('anullsrc=r=48000:cl=stereo,arealtime[aout]');
    } else {
      audios.forEach((_, k) => {
        parts.push(`[0:a:${k}]asetpts=PTS-${t0}/TB,aresample=48000:async=1:first_pts=0,aformat=channel_layouts=stereo[a${k}]`);
      });
      const labels = audios.map((_, k) => `[a${k}]`).join('');
      parts.push(audios.length === 1 ? `${labels}anull[aout]` : `${labels}amix=inputs=${audios.length}:duration=longest:normalize=0[aout]`);
    }
  }
  return { graph: parts.join(';'), video, audio };
}

const X264_PROFILE: Record<string, string> = { 'h264-baseline': 'baseline', 'h264-main': 'main', 'h264-high': 'high' };

function videoCodecArgs(job: EgressJob, forceH264: boolean, keyframeSeconds: number): string[] {
  const v = job.video;
  const gop = Math.max(1, Math.round(v.framerate * keyframeSeconds));
  const rate = [`-b:v`, `${v.bitrateKbps}k`, '-maxrate', `${v.bitrateKbps}k`, '-bufsize', `${v.bitrateKbps * 2}k`, '-g', String(gop), '-r', String(v.framerate)];
  if (v.codec === 'vp8' && !forceH264) return ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', ...rate];
  const profile = X264_PROFILE[v.codec] ?? 'main';
  return ['-c:v', 'libx264', '-preset', job.x264Preset, '-tune', 'zerolatency', '-profile:v', profile, '-pix_fmt', 'yuv420p', ...rate,
    '-force_key_frames', `expr:gte(t,n_forced*${keyframeSeconds})`];
}

function audioCodecArgs(job: EgressJob, codec: 'aac' | 'opus' | 'mp3'): string[] {
  const a = job.audio;
  const rate = codec === 'opus' ? 48000 : a.frequency;
  const enc = codec === 'opus' ? 'libopus' : codec === 'mp3' ? 'libmp3lame' : 'aac';
  return ['-c:a', enc, '-b:a', `${a.bitrateKbps}k`, '-ar', String(rate), '-ac', '2'];
}

/** A composite output: the filter graph, then the encoders and muxer this output needs. */
export function compositeArgs(sdpPath: string, job: EgressJob, output: EgressOutput, startSeconds: number): string[] {
  // Images take only the picture (their graph has no audio to leave unconnected).
  const f = compositeFilter(output.kind === 'images' ? { ...job, videoOnly: true } : job, startSeconds);
  const input = [...INPUT_ARGS, '-use_wallclock_as_timestamps', '1', '-i', sdpPath, '-copyts', '-filter_complex'];
  if (output.kind === 'images') {
    if (!f.video) throw new Error('an image output needs video');
    // One picture every interval, sized as asked, taken from the composite (inside the graph:
    // ffmpeg takes no -vf on a graph's output).
    const scale = output.width > 0 && output.height > 0 ? `,scale=${output.width}:${output.height}` : '';
    const graph = `${f.graph};[vout]fps=1/${output.intervalSeconds}${scale}[img]`;
    const start = output.startNumber ? ['-start_number', String(output.startNumber)] : [];
    return [...input, graph, '-map', '[img]', '-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', '3', '-f', 'image2', ...start, output.pattern];
  }
  const args = [...input, f.graph];
  const maps = [...(f.video ? ['-map', '[vout]'] : []), ...(f.audio ? ['-map', '[aout]'] : [])];
  switch (output.kind) {
    case 'file': {
      const audioCodec = output.container === 'ogg' || output.container === 'webm' ? 'opus' : output.container === 'mp3' ? 'mp3' : job.audio.codec === 'opus' ? 'opus' : 'aac';
      const v = f.video && output.container !== 'ogg' && output.container !== 'mp3' ? videoCodecArgs(job, output.container === 'mp4', job.video.keyFrameInterval || 4) : [];
      const a = f.audio ? audioCodecArgs(job, audioCodec) : [];
      const realMaps = output.container === 'ogg' || output.container === 'mp3' ? (f.audio ? ['-map', '[aout]'] : []) : maps;
      return [...args, ...realMaps, ...v, ...a, '-f', output.muxAs ?? FILE_FORMAT[output.container]!, output.path];
    }
    case 'stream': {
      // RTMP carries H.264 and AAC only; keyframes every 4 s unless asked otherwise.
      const v = f.video ? videoCodecArgs(job, true, job.video.keyFrameInterval || 4) : [];
      const a = f.audio ? audioCodecArgs(job, 'aac') : [];
      return [...args, ...maps, ...v, ...a, '-f', 'flv', output.url];
    }
    case 'segments': {
      const seg = output.segmentSeconds;
      const v = f.video ? videoCodecArgs(job, true, seg) : [];
      const a = f.audio ? audioCodecArgs(job, 'aac') : [];
      // The playlist is finished (#EXT-X-ENDLIST) when the egress ends, not when an ffmpeg does:
      // a composite whose tracks change goes on in a new one, appending.
      const more = output.startNumber ? ['-hls_flags', 'append_list+omit_endlist'] : ['-hls_flags', 'omit_endlist'];
      return [...args, ...maps, ...v, ...a, '-f', 'hls', '-hls_time', String(seg), '-hls_list_size', '0', '-hls_playlist_type', 'event', ...more,
        ...(output.timestampSuffix ? ['-strftime', '1'] : []), '-hls_segment_filename', output.segmentPattern, output.playlistPath];
    }
  }
}
