// Which of a v1 client's receive sections carries which subscribed track.
//
// On v1 the client always offers; it keeps spare `recvonly` sections (3 audio + 3 video at
// first) and Strand's answer turns one into `sendonly` for each subscribed track. A binding
// lasts as long as the subscription. A section whose track went away is retired, never reused
// for another track: the client has already ended the receiver it made for the first one.
// When there are too few spare sections, Strand asks for more (MediaSectionsRequirement).

export type MediaKind = 'audio' | 'video';

/** A section of the client's offer that it can receive on. */
export interface ReceiveSection {
  mid: string;
  kind: MediaKind;
}

export interface WantedTrack {
  trackSid: string;
  kind: MediaKind;
}

export interface KindCounts {
  audio: number;
  video: number;
}

export class SectionBinder {
  /** mid → track sid. */
  private readonly byMid = new Map<string, string>();
  private readonly retired = new Set<string>();
  /** Spare sections of the last offer, by kind. */
  private spare: KindCounts = { audio: 0, video: 0 };

  /**
   * Binds `wanted` to the receive sections of a new offer. Bindings of tracks still wanted
   * stay on their section; new tracks take spare sections in offer order. Returns the bindings
   * and how many wanted tracks found no section.
   */
  bind(offered: ReceiveSection[], wanted: WantedTrack[]): { bindings: ReadonlyMap<string, string>; missing: KindCounts } {
    const offeredMids = new Set(offered.map((s) => s.mid));
    const wantedSids = new Set(wanted.map((w) => w.trackSid));
    for (const [mid, sid] of [...this.byMid]) {
      if (offeredMids.has(mid) && wantedSids.has(sid)) continue;
      this.byMid.delete(mid);
      this.retired.add(mid);
    }
    const boundSids = new Set(this.byMid.values());
    const free: Record<MediaKind, string[]> = { audio: [], video: [] };
    for (const s of offered) if (!this.byMid.has(s.mid) && !this.retired.has(s.mid)) free[s.kind].push(s.mid);
    const missing: KindCounts = { audio: 0, video: 0 };
    for (const w of wanted) {
      if (boundSids.has(w.trackSid)) continue;
      const mid = free[w.kind].shift();
      if (mid === undefined) {
        missing[w.kind]++;
        continue;
      }
      this.byMid.set(mid, w.trackSid);
    }
    this.spare = { audio: free.audio.length, video: free.video.length };
    return { bindings: this.byMid, missing };
  }

  /**
   * Sections to ask the client for before its next offer can carry `wanted`: the unbound
   * tracks beyond the spare sections of the last offer (0/0 still means "offer again").
   */
  shortfall(wanted: WantedTrack[]): KindCounts {
    const boundSids = new Set(this.byMid.values());
    const need: KindCounts = { audio: 0, video: 0 };
    for (const w of wanted) if (!boundSids.has(w.trackSid)) need[w.kind]++;
    return { audio: Math.max(0, need.audio - this.spare.audio), video: Math.max(0, need.video - this.spare.video) };
  }
}
