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
  private timer: NodeJS.Timeout | null = null;
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

  /** Publishes a 440 Hz tone as a microphone track, fed in 10 ms frames until close(). */
  async publishTone(): Promise<string> {
    const source = new AudioSource(SAMPLE_RATE, 1);
    const track = LocalAudioTrack.createAudioTrack('tone', source);
    const pub = await this.room.localParticipant!.publishTrack(track, new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }));
    const samples = (SAMPLE_RATE * FRAME_MS) / 1000;
    let phase = 0;
    this.timer = setInterval(() => {
      const data = new Int16Array(samples);
      for (let i = 0; i < samples; i++, phase++) data[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * phase) / SAMPLE_RATE));
      void source.captureFrame(new AudioFrame(data, SAMPLE_RATE, 1, samples)).catch(() => undefined);
    }, FRAME_MS);
    return pub.sid!;
  }

  totalFrames(): number {
    let n = 0;
    for (const v of this.framesBySid.values()) n += v;
    return n;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const s of this.streams) void s.cancel().catch(() => undefined);
    await this.room.disconnect().catch(() => undefined);
  }
}
