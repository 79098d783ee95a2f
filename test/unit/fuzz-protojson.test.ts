// Fuzzing the protojson reader (Twirp JSON bodies and text signal frames) with mutated real
// requests: any value replaced by one of another JSON type or an odd one, keys renamed, dropped
// or added, objects nested. readProtoJson either returns or throws ProtoJsonError, and what it
// returns goes through the message class (fromObject, encode, decode) without a throw.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { livekit } from '../../src/proto/index.js';
import { ProtoJsonError, readProtoJson } from '../../src/proto/protojson.js';
import { fuzz, type Rng } from '../helpers/fuzz.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface MessageClass {
  fromObject(o: Record<string, unknown>): unknown;
  encode(m: never): { finish(): Uint8Array };
  decode(b: Uint8Array): unknown;
}

/** Requests as clients send them, one per message type the API and signal frames read. */
const SEEDS: Array<[string, MessageClass, Json]> = [
  ['livekit.CreateRoomRequest', livekit.CreateRoomRequest, { name: 'room', empty_timeout: 300, departureTimeout: 20, max_participants: 10, metadata: 'm', node_id: 'n', egress: { room: { room_name: 'room', file_outputs: [{ filepath: 'a.mp4' }] } } }],
  ['livekit.UpdateParticipantRequest', livekit.UpdateParticipantRequest, { room: 'r', identity: 'i', metadata: 'x', attributes: { a: 'b' }, permission: { can_publish: true, can_subscribe: false, can_publish_sources: ['CAMERA', 2], hidden: false } }],
  ['livekit.SendDataRequest', livekit.SendDataRequest, { room: 'r', data: 'AQID', kind: 'RELIABLE', destination_identities: ['a', 'b'], topic: 't', nonce: 'AAE=' }],
  ['livekit.RoomCompositeEgressRequest', livekit.RoomCompositeEgressRequest, { room_name: 'r', layout: 'grid', audio_only: false, file_outputs: [{ file_type: 'MP4', filepath: 'x/{room_name}.mp4' }], segment_outputs: [{ filename_prefix: 'p', segment_duration: 6 }], stream_outputs: [{ protocol: 'RTMP', urls: ['rtmp://h/app/key'] }], preset: 'H264_720P_30', advanced: { width: 1280, height: 720, framerate: 30, audio_bitrate: 128, key_frame_interval: 2.5 } }],
  ['livekit.CreateIngressRequest', livekit.CreateIngressRequest, { input_type: 'RTMP_INPUT', name: 'n', room_name: 'r', participant_identity: 'p', enable_transcoding: true, video: { source: 'CAMERA', preset: 'H264_1080P_30FPS_3_LAYERS' }, audio: { options: { bitrate: 64000, disable_dtx: true, channels: 2 } } }],
  ['livekit.SignalRequest', livekit.SignalRequest, { trickle: { candidateInit: '{"candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host"}', target: 'SUBSCRIBER', final: false } }],
  ['livekit.SignalRequest', livekit.SignalRequest, { subscription: { track_sids: ['TR_a'], subscribe: true, participant_tracks: [{ participant_sid: 'PA_x', track_sids: ['TR_b'] }] } }],
  ['livekit.SignalRequest', livekit.SignalRequest, { ping_req: { timestamp: '1700000000000', rtt: 12 } }],
];

const ODD: Json[] = [null, true, false, 0, -1, 1.5, 2 ** 31, 2 ** 32, -(2 ** 31) - 1, 2 ** 53, 1e308, '', 'x', '0', '-5', '99999999999999999999', 'NaN', 'Infinity', '1e3', 'RELIABLE', 'UNKNOWN_ENUM', '%%%', 'AQID', [], [1, 'a', null], [[[]]], {}, { a: 1 }, { '': '' }];
const KEYS = ['name', 'room', 'identity', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'ROOM', 'room_name', 'roomName', 'file_outputs', 'kind', 'x_y_z'];

/** A random path into `v` and a new value (or key) there. */
function mutate(rng: Rng, v: Json, depth = 0): Json {
  if (v === null || typeof v !== 'object' || rng.chance(0.25 + depth * 0.15)) {
    return rng.chance(0.8) ? rng.pick(ODD) : { [rng.pick(KEYS)]: rng.pick(ODD) };
  }
  if (Array.isArray(v)) {
    const out = [...v];
    if (out.length === 0 || rng.chance(0.2)) out.push(rng.pick(ODD));
    else {
      const i = rng.int(out.length);
      out[i] = mutate(rng, out[i]!, depth + 1);
    }
    return out;
  }
  const out: { [key: string]: Json } = { ...v };
  const keys = Object.keys(out);
  switch (rng.int(4)) {
    case 0: // a new or replaced key
      out[rng.pick(KEYS)] = rng.pick(ODD);
      break;
    case 1: // a key dropped
      if (keys.length > 0) delete out[rng.pick(keys)];
      break;
    default: { // a value mutated further down
      if (keys.length === 0) break;
      const k = rng.pick(keys);
      out[k] = mutate(rng, out[k]!, depth + 1);
    }
  }
  return out;
}

test('fuzz: protojson requests (RoomService, Egress, Ingress, signal frames), 100k cases', () => {
  let accepted = 0;
  const cases = fuzz('protojson', 1801, 100_000, (rng) => {
    const [type, cls, seed] = rng.pick(SEEDS);
    let value = seed;
    for (let k = 1 + rng.int(3); k > 0; k--) value = mutate(rng, value);
    // As the body arrives: text, then JSON.parse (which gives __proto__ as an own key).
    const parsed = JSON.parse(JSON.stringify(value)) as unknown;
    let read: Record<string, unknown>;
    try {
      read = readProtoJson(type, parsed);
    } catch (err) {
      if (err instanceof ProtoJsonError) return;
      throw new Error(`readProtoJson threw ${(err as Error).name}: ${(err as Error).message} for ${JSON.stringify(value).slice(0, 300)}`);
    }
    accepted++;
    try {
      const message = cls.fromObject(read);
      cls.decode(cls.encode(message as never).finish());
    } catch (err) {
      throw new Error(`${type}: a value readProtoJson accepted failed in the message class: ${(err as Error).message} for ${JSON.stringify(value).slice(0, 300)}`);
    }
  });
  assert.ok(accepted > cases / 10, `${accepted} of ${cases} mutated requests were accepted: the mutations reach the message classes`);
});
