// A tone for Chromium's fake microphone (--use-file-for-fake-audio-capture): loud and steady,
// so that speaker detection sees it speaking (the default fake capture is a short beep).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Writes a 5 s 440 Hz tone to a temporary WAV file; returns its path. */
export function toneWavFile(): string {
  const wav = join(mkdtempSync(join(tmpdir(), 'strand-tone-')), 'tone.wav');
  writeFileSync(wav, toneWav(440, 48000, 5));
  return wav;
}
/** A 16-bit mono PCM WAV file with a sine tone at about -12 dBFS. */
function toneWav(freq: number, rate: number, seconds: number): Buffer {
  const samples = rate * seconds;
  const buf = Buffer.alloc(44 + samples * 2);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + samples * 2, 4);
  buf.write('WAVEfmt ', 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) buf.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * freq * i) / rate)), 44 + i * 2);
  return buf;
}
