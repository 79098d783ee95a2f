// /metrics (and prometheus.port) in the Prometheus text format with LiveKit's metric names; the
// media counters, which the workers publish through shared memory, move while media flows.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { dispose } from '@livekit/rtc-node';
import { RoomServiceClient } from 'livekit-server-sdk';
import { freePort } from '../helpers/free-port.js';
import { parsePrometheusText, total, type Exposition } from '../helpers/prometheus-text.js';
import { NodeParticipant } from '../helpers/rtc-node.js';
import { startStrand, type StrandProcess } from '../helpers/strand-process.js';
import { DEV_KEY, DEV_SECRET, joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

let strand: StrandProcess;
let prometheusPort: number;

before(async () => {
  prometheusPort = await freePort();
  strand = await startStrand({ workers: 2, args: ['--config-body', `prometheus: { port: ${prometheusPort} }`] });
});

after(async () => {
  await dispose();
  assert.equal(await strand.stop(), 0, strand.stderr());
});

async function scrape(base = strand.httpUrl): Promise<Exposition> {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

const LIVEKIT_NAMES: Array<[string, string]> = [
  ['livekit_room_total', 'gauge'], ['livekit_participant_total', 'gauge'], ['livekit_track_published_total', 'gauge'],
  ['livekit_track_subscribed_total', 'gauge'], ['livekit_packet_total', 'counter'], ['livekit_packet_bytes', 'counter'],
  ['livekit_nack_total', 'counter'], ['livekit_pli_total', 'counter'], ['livekit_node_messages', 'counter'],
  ['livekit_node_twirp_request_status', 'counter'], ['livekit_session_join_latency_ms', 'histogram'],
  ['livekit_room_duration_seconds', 'histogram'],
];

test('/metrics parses and carries LiveKit\'s metric names', async () => {
  const e = await scrape();
  for (const [name, type] of LIVEKIT_NAMES) assert.equal(e.types.get(name), type, name);
  assert.ok(e.samples.every((s) => s.labels.node_type === 'SERVER' && /^ND_/.test(s.labels.node_id ?? '')), 'node labels on every sample');
  const viaPort = await scrape(`http://127.0.0.1:${prometheusPort}`);
  assert.equal(viaPort.types.get('livekit_packet_total'), 'counter', 'also served on prometheus.port');
});

test('counters and gauges move while media flows', { timeout: 60_000 }, async () => {
  const before = await scrape();
  const room = `metrics-${Date.now()}`;
  const alice = new NodeParticipant();
  const bob = new NodeParticipant();
  try {
    await alice.connect(strand.url, await joinToken(room, 'alice'));
    await alice.publishTone();
    await bob.connect(strand.url, await joinToken(room, 'bob'));
    await waitFor(() => bob.totalFrames() > 100, 20_000, 'bob to hear alice');
    await new RoomServiceClient(strand.httpUrl, DEV_KEY, DEV_SECRET).listRooms();

    const during = await waitFor(async () => {
      const e = await scrape();
      return total(e, 'livekit_packet_total', { direction: 'outgoing' }) > 50 ? e : null;
    }, 5000, 'outgoing packets in the metrics');
    assert.equal(total(during, 'livekit_room_total'), 1);
    assert.equal(total(during, 'livekit_participant_total'), 2);
    assert.equal(total(during, 'livekit_track_published_total', { kind: 'audio' }), 1);
    assert.equal(total(during, 'livekit_track_subscribed_total', { kind: 'audio' }), 1);
    for (const direction of ['incoming', 'outgoing']) {
      assert.ok(total(during, 'livekit_packet_total', { direction }) > total(before, 'livekit_packet_total', { direction }), `${direction} packets moved`);
      assert.ok(total(during, 'livekit_packet_bytes', { direction }) > total(before, 'livekit_packet_bytes', { direction }), `${direction} bytes moved`);
    }
    assert.ok(total(during, 'livekit_node_messages', { type: 'signal', direction: 'incoming', status: 'success' }) > 0);
    assert.ok(total(during, 'livekit_node_messages', { type: 'signal', direction: 'outgoing' }) > 0);
    assert.ok(total(during, 'livekit_session_join_latency_ms_count') >= 2, 'both joins were timed');
    assert.equal(total(during, 'livekit_node_twirp_request_status', { method: 'ListRooms', status: '200', code: 'ok' }), 1);

    const later = await waitFor(async () => {
      const e = await scrape();
      return total(e, 'livekit_packet_total', { direction: 'outgoing' }) > total(during, 'livekit_packet_total', { direction: 'outgoing' }) ? e : null;
    }, 5000, 'the counters to keep moving');
    assert.ok(total(later, 'livekit_packet_bytes', { direction: 'incoming' }) > total(during, 'livekit_packet_bytes', { direction: 'incoming' }));
  } finally {
    await bob.close();
    await alice.close();
  }
});
