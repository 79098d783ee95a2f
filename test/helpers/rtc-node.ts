// A Node participant on @livekit/rtc-node: publishes a synthetic tone, counts what it hears.
import {
  AudioFrame, AudioSource, AudioStream, LocalAudioTrack, Room, RoomEvent, TrackKind, TrackPublishOptions, TrackSource,
  type RemoteTrack,
} from '@livekit/rtc-node';

const SAMPLE_RATE = 48000;
const FRAME_MS = 10;

export class NodeParticipant {
  readonly room = new Room();
  /** Audio frames received per remote track sid. */
  readonly framesBySid = new Map<string, number>();
  private readonly streams: AudioStream[] = [];

  async connect(url: string, token: string): Promise<void> {
    this.room.on(RoomEvent.TrackSubscribed, (track: RemoteTrack) => {
      if (track.kind !== TrackKind.KIND_AUDIO) return;
      const stream = new AudioStream(track, SAMPLE_RATE, 1);
      this.streams.push(stream);
      void (async () => {
        for await (const _frame of stream) this.framesBySid.set(track.sid!, (this.framesBySid.get(track.sid!) ?? 0) + 1);
      })().catch(() => undefined);
    });
    await this.room.connect(url, token, { autoSubscribe: true, dynacast: false });
  }

  /** Frames the tone source refused (captureFrame rejected). */
  captureErrors = 0;
  private toneRunning = false;

  /**
   * Publishes a 440 Hz tone as a microphone track, fed in 10 ms frames until close(). Each
   * frame is awaited before the next is made (rtc-node paces captureFrame by its queue), and a
   * loop that falls behind the wall clock catches up, so the tone stays real-time.
   */
  async publishTone(): Promise<string> {
    const source = new AudioSource(SAMPLE_RATE, 1);
    const track = LocalAudioTrack.createAudioTrack('tone', source);
    const pub = await this.room.localParticipant!.publishTrack(track, new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }));
    const samples = (SAMPLE_RATE * FRAME_MS) / 1000;
    this.toneRunning = true;
    void (async () => {
      let phase = 0;
      const started = performance.now();
      for (let sent = 0; this.toneRunning; sent++) {
        const data = new Int16Array(samples);
        for (let i = 0; i < samples; i++, phase++) data[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * phase) / SAMPLE_RATE));
        await source.captureFrame(new AudioFrame(data, SAMPLE_RATE, 1, samples)).catch(() => { this.captureErrors++; });
        const ahead = started + (sent + 1) * FRAME_MS - performance.now();
        if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
      }
    })();
    return pub.sid!;
  }

  totalFrames(): number {
    let n = 0;
    for (const v of this.framesBySid.values()) n += v;
    return n;
  }

  async close(): Promise<void> {
    this.toneRunning = false;
    for (const s of this.streams) void s.cancel().catch(() => undefined);
    await this.room.disconnect().catch(() => undefined);
  }
}
