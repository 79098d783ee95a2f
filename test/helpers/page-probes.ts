// In-page instrumentation for the browser tests, installed before livekit-client loads: every
// WebSocket (URL, open and close times) and every RTCPeerConnection (creation and first
// "connected" times) the SDK creates is recorded on `window.probe`.
import type { Page } from 'playwright-core';

export const PROBE_SCRIPT = `(() => {
  const probe = { sockets: [], pcs: [], channels: [] };
  window.probe = probe;
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      const rec = { url: String(url), openedAt: 0, closedAt: 0 };
      probe.sockets.push(rec);
      this.addEventListener('open', () => { rec.openedAt = performance.now(); });
      this.addEventListener('close', () => { rec.closedAt = performance.now(); });
    }
  };
  const NativePeerConnection = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends NativePeerConnection {
    constructor(config) {
      super(config);
      const rec = { createdAt: performance.now(), connectedAt: 0, states: [], ice: [] };
      probe.pcs.push(rec);
      this.addEventListener('iceconnectionstatechange', () => rec.ice.push(this.iceConnectionState + '@' + Math.round(performance.now())));
      const track = (dc) => {
        const c = { label: dc.label, id: dc.id, events: [], messages: 0 };
        probe.channels.push(c);
        for (const ev of ['open', 'close', 'closing', 'error']) dc.addEventListener(ev, () => c.events.push(ev + '@' + Math.round(performance.now())));
        dc.addEventListener('message', () => { c.messages++; });
        return dc;
      };
      const create = this.createDataChannel.bind(this);
      this.createDataChannel = (label, init) => track(create(label, init));
      this.addEventListener('datachannel', (e) => track(e.channel));
      this.addEventListener('connectionstatechange', () => {
        rec.states.push(this.connectionState + '@' + Math.round(performance.now()));
        if (this.connectionState === 'connected' && rec.connectedAt === 0) rec.connectedAt = performance.now();
      });
    }
  };
})();`;

export interface ProbedSocket {
  url: string;
  openedAt: number;
  closedAt: number;
}

export interface ProbedPeerConnection {
  createdAt: number;
  connectedAt: number;
  /** "connected@<ms>", … */
  states: string[];
}

export interface ProbedChannel {
  label: string;
  id: number | null;
  /** "open@<ms>", "close@<ms>", … */
  events: string[];
  messages: number;
}

export interface Probe {
  sockets: ProbedSocket[];
  pcs: ProbedPeerConnection[];
  channels: ProbedChannel[];
}

export async function readProbe(page: Page): Promise<Probe> {
  return page.evaluate(() => (globalThis as unknown as { probe: Probe }).probe);
}

/** The value at quantile `q` (0–1) of `values`, nearest rank. */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
