// Dynacast: tells each publisher which simulcast layers anyone needs (SubscribedQualityUpdate),
// so its encoder stops producing the others. Needs rise at once; falls wait `pauseDelayMs`
// (LiveKit's video.dynacast_pause_delay, 5 s) so a brief change does not cost a keyframe.
import { livekit } from '../../proto/index.js';

interface TrackState {
  /** Highest layer index last announced (-1: none needed). */
  announced: number;
  timer: NodeJS.Timeout | null;
}

export class Dynacast {
  private readonly tracks = new Map<string, TrackState>();

  constructor(
    private readonly send: (trackSid: string, update: livekit.ISubscribedQualityUpdate) => void,
    private readonly pauseDelayMs = 5000,
  ) {}

  /**
   * Reports the highest layer needed now (-1: none) for a track with `layers` (lowest first)
   * and codec `mimeType`.
   */
  update(trackSid: string, layers: livekit.IVideoLayer[], mimeType: string, needed: number): void {
    let state = this.tracks.get(trackSid);
    if (!state) {
      // A publisher starts with every layer on.
      state = { announced: layers.length - 1, timer: null };
      this.tracks.set(trackSid, state);
    }
    const s = state;
    if (needed === s.announced) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = null;
      return;
    }
    const announce = () => {
      s.timer = null;
      s.announced = needed;
      const qualities = layers.map((l, i) => ({ quality: l.quality ?? i, enabled: i <= needed }));
      const codec = (mimeType.split('/')[1] ?? '').toLowerCase();
      this.send(trackSid, { trackSid, subscribedQualities: qualities, subscribedCodecs: [{ codec, qualities }] });
    };
    if (s.timer) clearTimeout(s.timer);
    s.timer = null;
    if (needed > s.announced) announce();
    else {
      s.timer = setTimeout(announce, this.pauseDelayMs);
      s.timer.unref();
    }
  }

  remove(trackSid: string): void {
    const s = this.tracks.get(trackSid);
    if (s?.timer) clearTimeout(s.timer);
    this.tracks.delete(trackSid);
  }

  close(): void {
    for (const sid of [...this.tracks.keys()]) this.remove(sid);
  }
}
