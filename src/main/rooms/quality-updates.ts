// Which connection-quality updates a room sends, by LiveKit's rule (its room's connection
// quality worker): while every participant keeps its quality level, nothing goes out; when one
// changes level, or is reported for the first time, everyone gets everyone's current levels.
// A room of steady participants then costs no signalling every 5 s, instead of N messages of N
// entries.
import type { livekit } from '../../proto/index.js';

export interface QualityReport {
  sid: string;
  quality: number;
  score: number;
}

export class QualityUpdates {
  /** The latest report of each participant, from whichever worker hosts it. */
  private readonly latest = new Map<string, livekit.IConnectionQualityInfo>();

  /**
   * One worker's reports. Returns the updates to send (every participant `shown` accepts), or
   * null when no level changed.
   */
  report(reports: QualityReport[], shown: (sid: string) => boolean): livekit.IConnectionQualityInfo[] | null {
    let changed = false;
    for (const r of reports) {
      if (!shown(r.sid)) continue;
      const before = this.latest.get(r.sid);
      if (before?.quality !== r.quality) changed = true;
      this.latest.set(r.sid, { participantSid: r.sid, quality: r.quality as livekit.ConnectionQuality, score: r.score });
    }
    if (!changed) return null;
    return [...this.latest.values()].filter((u) => shown(u.participantSid!));
  }

  /** The latest level of a participant (livekit.ConnectionQuality), if one was reported. */
  levelOf(sid: string): number | undefined {
    return this.latest.get(sid)?.quality ?? undefined;
  }

  /** A participant left: the next report of that sid counts as a first one. */
  forget(sid: string): void {
    this.latest.delete(sid);
  }
}
