// Webhooks as LiveKit sends them (protojson WebhookEvent, `application/webhook+json`, and an
// `Authorization` JWT signed with the webhook key whose `sha256` claim is the body's hash), with
// a durable queue: every delivery is stored before it is attempted and removed once a receiver
// answered 2xx, so events survive a receiver outage and a crash of Strand. Deliveries to one URL
// about one room form a lane and go out strictly in order; lanes run independently, so a slow
// room does not hold up the others.
//
// Delivery is at least once. A lane posts its next event only after the removal of the last
// delivered one is committed, so a crash re-sends at most one event per lane: the one whose 2xx
// came before the removal was committed. Its `id` is the same, for receivers to deduplicate.
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { JSON_OPTIONS, livekit } from '../../proto/index.js';
import { signToken } from '../auth/token-signer.js';
import type { Logger } from '../logger.js';
import { newId } from '../rooms/ids.js';
import type { QueuedWebhook, Store } from '../store/store.js';

export interface WebhookOptions {
  urls: string[];
  apiKey: string;
  /** Every API key and its secret (an extra receiver names the key that signs for it). */
  keys: Record<string, string>;
  /** Deliveries older than this are dropped instead of retried, seconds. */
  maxAgeSeconds: number;
  requestTimeoutMs: number;
}

/** LiveKit's receivers accept a token for 5 minutes; each attempt signs afresh. */
const TOKEN_VALID_SECONDS = 5 * 60;
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5000;

/** The exact body LiveKit posts: protojson (lowerCamelCase, enums by name, int64 as strings). */
export function webhookBody(event: livekit.IWebhookEvent): string {
  return JSON.stringify(livekit.WebhookEvent.toObject(livekit.WebhookEvent.fromObject(event as Record<string, unknown>), JSON_OPTIONS));
}

/** Base64 (standard, padded) SHA-256 of the body: the `sha256` claim receivers check. */
export function bodyHash(body: string): string {
  return createHash('sha256').update(body).digest('base64');
}

class Lane {
  readonly queue: QueuedWebhook[] = [];
  running = false;
  constructor(readonly key: string) {}
}

const laneKey = (w: QueuedWebhook): string => `${w.url}\n${w.room}`;

export class WebhookNotifier {
  private readonly lanes = new Map<string, Lane>();
  private readonly stop = new AbortController();
  /** Requests under way, aborted by close(). Not AbortSignal.any() over `stop`: each would add a listener to it for as long as it lives. */
  private readonly inFlight = new Set<AbortController>();
  /** Deliveries dropped because they stayed undelivered past maxAgeSeconds. */
  dropped = 0;
  delivered = 0;

  constructor(private readonly store: Store, private readonly opts: WebhookOptions, private readonly log: Logger) {
    // Each lane waiting out a retry listens on `stop` until it wakes: one listener per lane, not a leak.
    setMaxListeners(0, this.stop.signal);
  }

  get enabled(): boolean {
    return this.opts.urls.length > 0;
  }

  /** Resumes what an earlier run left undelivered. */
  start(): void {
    const pending = this.store.pendingWebhooks();
    if (pending.length > 0) this.log.info({ count: pending.length }, 'resuming undelivered webhooks');
    for (const w of pending) this.lane(w).queue.push(w);
    for (const lane of this.lanes.values()) this.run(lane);
  }

  /**
   * Queues an event for every configured URL, and for `extra` receivers (an egress request's own
   * webhooks, signed with the key each names); `id` and `createdAt` are filled in here.
   */
  notify(event: livekit.IWebhookEvent, extra: Array<{ url: string; signingKey: string }> = []): void {
    if ((!this.enabled && extra.length === 0) || this.stop.signal.aborted) return;
    const now = Date.now();
    const body = webhookBody({ ...event, id: newId('EV_'), createdAt: Math.floor(now / 1000) });
    const room = event.room?.name ?? '';
    const targets = [
      ...this.opts.urls.map((url) => ({ url, room, body, createdAtMs: now })),
      ...extra.map((x) => ({ url: x.url, room, body, createdAtMs: now, apiKey: x.signingKey || this.opts.apiKey || Object.keys(this.opts.keys)[0] || '' })),
    ];
    const queued = this.store.enqueueWebhooks(targets);
    for (const w of queued) {
      const lane = this.lane(w);
      lane.queue.push(w);
      this.run(lane);
    }
  }

  /** Stops delivering; what is still queued stays in the store for the next start. */
  close(): void {
    this.stop.abort();
    for (const request of this.inFlight) request.abort();
  }

  private lane(w: QueuedWebhook): Lane {
    const key = laneKey(w);
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = new Lane(key);
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private run(lane: Lane): void {
    if (lane.running) return;
    lane.running = true;
    this.drain(lane).catch((err: unknown) => this.log.error({ err }, 'webhook lane failed')).finally(() => {
      lane.running = false;
      // An event queued while the drain was finishing would otherwise wait for the next one.
      if (lane.queue.length > 0 && !this.stop.signal.aborted) this.run(lane);
      else if (lane.queue.length === 0 && this.lanes.get(lane.key) === lane) this.lanes.delete(lane.key);
    });
  }

  private async drain(lane: Lane): Promise<void> {
    // Committed first: a delivery must not reach a receiver before it is durable, or a crash
    // right after could leave a later event delivered and an earlier one lost.
    await this.store.flushed();
    let attempt = 0;
    while (lane.queue.length > 0 && !this.stop.signal.aborted) {
      const w = lane.queue[0]!;
      if (Date.now() - w.createdAtMs > this.opts.maxAgeSeconds * 1000) {
        this.log.warn({ url: w.url, room: w.room, seq: w.seq }, 'webhook dropped: undelivered past webhook.max_age');
        this.dropped++;
        await this.finish(lane, w);
        attempt = 0;
        continue;
      }
      const error = await this.deliver(w);
      if (error === null) {
        this.delivered++;
        await this.finish(lane, w);
        attempt = 0;
        continue;
      }
      const delay = Math.min(FIRST_RETRY_MS * 2 ** attempt, MAX_RETRY_MS);
      if (attempt === 0) this.log.warn({ url: w.url, room: w.room, error }, 'webhook delivery failed, retrying');
      attempt++;
      await sleep(delay, this.stop.signal);
    }
  }

  private async finish(lane: Lane, w: QueuedWebhook): Promise<void> {
    lane.queue.shift();
    await this.store.ackWebhook(w.seq);
  }

  /** One attempt; null on success, else what went wrong. */
  private async deliver(w: QueuedWebhook): Promise<string | null> {
    const apiKey = w.apiKey ?? this.opts.apiKey;
    const secret = this.opts.keys[apiKey];
    if (!secret) return `no secret for signing key "${apiKey}"`;
    const token = signToken(apiKey, secret, { sha256: bodyHash(w.body) }, TOKEN_VALID_SECONDS);
    const request = new AbortController();
    const timer = setTimeout(() => request.abort(new Error(`no answer within ${this.opts.requestTimeoutMs} ms`)), this.opts.requestTimeoutMs);
    this.inFlight.add(request);
    try {
      const res = await fetch(w.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/webhook+json', Authorization: token, 'User-Agent': 'Strand' },
        body: w.body,
        signal: request.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? null : `HTTP ${res.status}`;
    } catch (err) {
      return String((err as Error).cause ?? (err as Error).message);
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(request);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
