// A raw LiveKit signal client over `ws`, for protocol-level tests (auth, permissions, bad input).
import WebSocket from 'ws';
import { livekit } from '../../src/proto/index.js';

export class RawSignalClient {
  readonly messages: livekit.SignalResponse[] = [];
  closeCode: number | null = null;
  closeReason = '';
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const msg = isBinary
        ? livekit.SignalResponse.decode(new Uint8Array(data))
        : livekit.SignalResponse.fromObject(JSON.parse(data.toString()) as Record<string, unknown>);
      this.messages.push(msg);
      this.wake();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Opens /rtc (or `path`); resolves with the client, or rejects with the HTTP status of a refused upgrade. */
  static connect(baseUrl: string, token: string, query = 'auto_subscribe=1&protocol=17&sdk=js', path = '/rtc'): Promise<RawSignalClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${baseUrl}${path}?access_token=${encodeURIComponent(token)}&${query}`);
      ws.once('open', () => resolve(new RawSignalClient(ws)));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });
  }

  send(req: livekit.ISignalRequest): void {
    this.ws.send(livekit.SignalRequest.encode(req).finish());
  }

  sendRaw(data: Buffer | string): void {
    this.ws.send(data);
  }

  /** Waits for a response with the given oneof case (skipping, not consuming, others). */
  async next(kind: string, timeoutMs = 5000, from = 0): Promise<livekit.SignalResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find((m) => m.message === kind);
      if (found) return found;
      if (this.closeCode !== null) throw new Error(`socket closed (${this.closeCode} ${this.closeReason}) before ${kind}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${kind} within ${timeoutMs} ms (got ${this.messages.map((m) => m.message).join(', ')})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  async closed(timeoutMs = 5000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.closeCode === null) {
      if (Date.now() > deadline) throw new Error('socket did not close');
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.closeCode;
  }

  close(): void {
    this.ws.close();
  }
}
