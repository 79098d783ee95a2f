// Wire compatibility of proto/ with LiveKit's own generated code (@livekit/protocol):
// every message Strand sends decodes with LiveKit's classes to the same protojson, and every
// client request LiveKit's classes encode decodes with Strand's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as LK from '@livekit/protocol';
import { JSON_OPTIONS, encodeSignalResponse, decodeSignalRequest, livekit } from '../../src/proto/index.js';

const track: livekit.ITrackInfo = {
  sid: 'TR_abc', type: livekit.TrackType.VIDEO, name: 'camera', muted: true, width: 1280, height: 720, simulcast: true,
  source: livekit.TrackSource.CAMERA, mimeType: 'video/VP8', mid: '1', stream: 'camera',
  layers: [{ quality: livekit.VideoQuality.LOW, width: 320, height: 180, bitrate: 150000, ssrc: 1234, rid: 'q' },
    { quality: livekit.VideoQuality.HIGH, width: 1280, height: 720, bitrate: 1700000, ssrc: 5678, rid: 'f' }],
  codecs: [{ mimeType: 'video/VP8', mid: '1', cid: 'cid-1', layers: [{ quality: livekit.VideoQuality.MEDIUM, rid: 'h' }] }],
  encryption: livekit.Encryption.Type.NONE, audioFeatures: [livekit.AudioTrackFeature.TF_NO_DTX],
};
const participant: livekit.IParticipantInfo = {
  sid: 'PA_abc', identity: 'alice', state: livekit.ParticipantInfo.State.ACTIVE, tracks: [track], metadata: '{"a":1}',
  joinedAt: 1795500000, joinedAtMs: 1795500000123, name: 'Alice', version: 7, isPublisher: true,
  permission: { canSubscribe: true, canPublish: true, canPublishData: true, canPublishSources: [livekit.TrackSource.CAMERA], canUpdateMetadata: true },
  kind: livekit.ParticipantInfo.Kind.STANDARD, attributes: { role: 'host' }, disconnectReason: livekit.DisconnectReason.UNKNOWN_REASON, clientProtocol: 2,
};
const room: livekit.IRoom = {
  sid: 'RM_abc', name: 'lobby', emptyTimeout: 300, departureTimeout: 20, maxParticipants: 10, creationTime: 1795500000,
  creationTimeMs: 1795500000123, metadata: 'meta', numParticipants: 2, numPublishers: 1,
};

/** Every SignalResponse Strand sends today (or will with the SFU issues), one per case. */
const responses: Record<string, livekit.ISignalResponse> = {
  join: { join: {
    room, participant, otherParticipants: [participant], serverVersion: '0.1.0',
    iceServers: [{ urls: ['stun:stun.example.org:3478'], username: 'u', credential: 'c' }], subscriberPrimary: true,
    pingTimeout: 15, pingInterval: 5, serverInfo: { edition: livekit.ServerInfo.Edition.Standard, version: '0.1.0', protocol: 17, nodeId: 'ND_x' },
    fastPublish: true,
  } },
  answer: { answer: { type: 'answer', sdp: 'v=0\r\n', id: 3 } },
  offer: { offer: { type: 'offer', sdp: 'v=0\r\n', id: 4 } },
  trickle: { trickle: { candidateInit: '{"candidate":"candidate:1 1 UDP 1 127.0.0.1 9 typ host"}', target: livekit.SignalTarget.SUBSCRIBER } },
  update: { update: { participants: [participant] } },
  trackPublished: { trackPublished: { cid: 'cid-1', track } },
  leave: { leave: { canReconnect: false, reason: livekit.DisconnectReason.DUPLICATE_IDENTITY, action: livekit.LeaveRequest.Action.RECONNECT } },
  mute: { mute: { sid: 'TR_abc', muted: true } },
  speakersChanged: { speakersChanged: { speakers: [{ sid: 'PA_abc', level: 0.5, active: true }] } },
  roomUpdate: { roomUpdate: { room } },
  connectionQuality: { connectionQuality: { updates: [{ participantSid: 'PA_abc', quality: livekit.ConnectionQuality.EXCELLENT, score: 4.5 }] } },
  streamStateUpdate: { streamStateUpdate: { streamStates: [{ participantSid: 'PA_abc', trackSid: 'TR_abc', state: livekit.StreamState.PAUSED }] } },
  subscribedQualityUpdate: { subscribedQualityUpdate: { trackSid: 'TR_abc', subscribedQualities: [{ quality: livekit.VideoQuality.HIGH, enabled: false }], subscribedCodecs: [{ codec: 'vp8', qualities: [{ quality: livekit.VideoQuality.LOW, enabled: true }] }] } },
  subscriptionPermissionUpdate: { subscriptionPermissionUpdate: { participantSid: 'PA_abc', trackSid: 'TR_abc', allowed: true } },
  refreshToken: { refreshToken: 'jwt' },
  trackUnpublished: { trackUnpublished: { trackSid: 'TR_abc' } },
  pong: { pong: 1795500000123 },
  reconnect: { reconnect: { iceServers: [{ urls: ['turn:t.example.org:3478?transport=udp'] }], lastMessageSeq: 9 } },
  pongResp: { pongResp: { lastPingTimestamp: 1795500000000, timestamp: 1795500000123 } },
  subscriptionResponse: { subscriptionResponse: { trackSid: 'TR_abc', err: livekit.SubscriptionError.SE_TRACK_NOTFOUND } },
  requestResponse: { requestResponse: { requestId: 5, reason: livekit.RequestResponse.Reason.NOT_ALLOWED, message: 'no', addTrack: { cid: 'c', type: livekit.TrackType.AUDIO } } },
  trackSubscribed: { trackSubscribed: { trackSid: 'TR_abc' } },
};

/** Drops keys whose value is an empty object (protojson omits empty sub-messages' defaults but keeps the key). */
function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) out[k] = normalize(val);
    return out;
  }
  return v;
}

for (const [name, msg] of Object.entries(responses)) {
  test(`SignalResponse.${name}: Strand's bytes decode with @livekit/protocol to the same protojson`, () => {
    const bytes = encodeSignalResponse(msg, true) as Uint8Array;
    const theirs = LK.SignalResponse.fromBinary(bytes);
    assert.equal(theirs.message.case, name);
    const ours = livekit.SignalResponse.toObject(livekit.SignalResponse.decode(bytes), JSON_OPTIONS);
    assert.deepEqual(normalize(theirs.toJson()), normalize(ours));
    // Text frames: Strand's JSON parses with LiveKit's protojson reader to the same message.
    const text = encodeSignalResponse(msg, false) as string;
    assert.ok(LK.SignalResponse.fromJsonString(text).equals(theirs));
  });
}

/** Every request a client sends, built with LiveKit's classes. */
const requests: Record<string, LK.SignalRequest> = {
  offer: new LK.SignalRequest({ message: { case: 'offer', value: new LK.SessionDescription({ type: 'offer', sdp: 'v=0\r\n', id: 2 }) } }),
  answer: new LK.SignalRequest({ message: { case: 'answer', value: new LK.SessionDescription({ type: 'answer', sdp: 'v=0\r\n' }) } }),
  trickle: new LK.SignalRequest({ message: { case: 'trickle', value: new LK.TrickleRequest({ candidateInit: '{}', target: LK.SignalTarget.SUBSCRIBER, final: true }) } }),
  addTrack: new LK.SignalRequest({ message: { case: 'addTrack', value: new LK.AddTrackRequest({
    cid: 'cid', name: 'cam', type: LK.TrackType.VIDEO, width: 1280, height: 720, source: LK.TrackSource.CAMERA, sid: 'TR_x', disableRed: true, stream: 's',
    layers: [new LK.VideoLayer({ quality: LK.VideoQuality.HIGH, width: 1280, height: 720, bitrate: 1000 })],
    simulcastCodecs: [new LK.SimulcastCodec({ codec: 'vp8', cid: 'cid' })], backupCodecPolicy: LK.BackupCodecPolicy.SIMULCAST,
    audioFeatures: [LK.AudioTrackFeature.TF_STEREO], encryption: LK.Encryption_Type.GCM,
  }) } }),
  mute: new LK.SignalRequest({ message: { case: 'mute', value: new LK.MuteTrackRequest({ sid: 'TR_x', muted: true }) } }),
  subscription: new LK.SignalRequest({ message: { case: 'subscription', value: new LK.UpdateSubscription({
    trackSids: ['TR_x'], subscribe: true, participantTracks: [new LK.ParticipantTracks({ participantSid: 'PA_x', trackSids: ['TR_y'] })] }) } }),
  trackSetting: new LK.SignalRequest({ message: { case: 'trackSetting', value: new LK.UpdateTrackSettings({
    trackSids: ['TR_x'], disabled: true, quality: LK.VideoQuality.MEDIUM, width: 320, height: 180, fps: 15, priority: 2 }) } }),
  leave: new LK.SignalRequest({ message: { case: 'leave', value: new LK.LeaveRequest({ reason: LK.DisconnectReason.CLIENT_INITIATED, action: LK.LeaveRequest_Action.DISCONNECT }) } }),
  subscriptionPermission: new LK.SignalRequest({ message: { case: 'subscriptionPermission', value: new LK.SubscriptionPermission({
    allParticipants: false, trackPermissions: [new LK.TrackPermission({ participantIdentity: 'bob', allTracks: true })] }) } }),
  ping: new LK.SignalRequest({ message: { case: 'ping', value: BigInt(1795500000123) } }),
  updateMetadata: new LK.SignalRequest({ message: { case: 'updateMetadata', value: new LK.UpdateParticipantMetadata({ metadata: 'm', name: 'n', attributes: { a: 'b' }, requestId: 3 }) } }),
  pingReq: new LK.SignalRequest({ message: { case: 'pingReq', value: new LK.Ping({ timestamp: BigInt(1795500000123), rtt: BigInt(12) }) } }),
  updateAudioTrack: new LK.SignalRequest({ message: { case: 'updateAudioTrack', value: new LK.UpdateLocalAudioTrack({ trackSid: 'TR_x', features: [LK.AudioTrackFeature.TF_NO_DTX] }) } }),
  updateVideoTrack: new LK.SignalRequest({ message: { case: 'updateVideoTrack', value: new LK.UpdateLocalVideoTrack({ trackSid: 'TR_x', width: 640, height: 360 }) } }),
};

for (const [name, req] of Object.entries(requests)) {
  test(`SignalRequest.${name}: @livekit/protocol bytes and JSON decode with Strand's code`, () => {
    const bytes = req.toBinary();
    const ours = decodeSignalRequest(bytes.slice().buffer, true);
    assert.equal(ours.message, name);
    assert.deepEqual(normalize(livekit.SignalRequest.toObject(ours, JSON_OPTIONS)), normalize(req.toJson()));
    const fromText = decodeSignalRequest(new TextEncoder().encode(req.toJsonString()).buffer, false);
    assert.deepEqual(livekit.SignalRequest.toObject(fromText, JSON_OPTIONS), livekit.SignalRequest.toObject(ours, JSON_OPTIONS));
  });
}

test('sync_state and simulate decode field by field', () => {
  const sync = new LK.SignalRequest({ message: { case: 'syncState', value: new LK.SyncState({
    answer: new LK.SessionDescription({ sdp: 'x', type: 'answer' }),
    subscription: new LK.UpdateSubscription({ trackSids: ['TR_a'], subscribe: false }),
    publishTracks: [new LK.TrackPublishedResponse({ cid: 'c', track: new LK.TrackInfo({ sid: 'TR_b' }) })],
    trackSidsDisabled: ['TR_c'],
    datachannelReceiveStates: [new LK.DataChannelReceiveState({ publisherSid: 'PA_x', lastSeq: 7 })],
  }) } });
  const ours = decodeSignalRequest(sync.toBinary().slice().buffer, true);
  assert.equal(ours.message, 'syncState');
  assert.equal(ours.syncState?.answer?.sdp, 'x');
  assert.deepEqual(ours.syncState?.subscription?.trackSids, ['TR_a']);
  assert.equal(ours.syncState?.publishTracks?.[0]?.track?.sid, 'TR_b');
  assert.deepEqual(ours.syncState?.trackSidsDisabled, ['TR_c']);
  assert.equal(ours.syncState?.datachannelReceiveStates?.[0]?.lastSeq, 7);
  const sim = new LK.SignalRequest({ message: { case: 'simulate', value: new LK.SimulateScenario({ scenario: { case: 'speakerUpdate', value: 3 } }) } });
  const decoded = decodeSignalRequest(sim.toBinary().slice().buffer, true);
  assert.equal(decoded.simulate?.scenario, 'speakerUpdate');
  assert.equal(decoded.simulate?.speakerUpdate, 3);
});

test('v1 WrappedJoinRequest / JoinRequest from @livekit/protocol decode; MediaSectionsRequirement encodes', () => {
  const join = new LK.JoinRequest({
    clientInfo: new LK.ClientInfo({ sdk: LK.ClientInfo_SDK.JS, version: '2.23.0', protocol: 17, clientProtocol: 2 }),
    connectionSettings: new LK.ConnectionSettings({ autoSubscribe: true, adaptiveStream: true }),
    publisherOffer: new LK.SessionDescription({ type: 'offer', sdp: 'v=0', id: 1 }),
    reconnect: true, reconnectReason: LK.ReconnectReason.RR_SIGNAL_DISCONNECTED, participantSid: 'PA_x',
  });
  const wrapped = new LK.WrappedJoinRequest({ compression: LK.WrappedJoinRequest_Compression.NONE, joinRequest: join.toBinary() });
  const w = livekit.WrappedJoinRequest.decode(wrapped.toBinary());
  const j = livekit.JoinRequest.decode(w.joinRequest);
  assert.equal(j.clientInfo?.protocol, 17);
  assert.equal(j.connectionSettings?.adaptiveStream, true);
  assert.equal(j.publisherOffer?.id, 1);
  assert.equal(j.reconnect, true);
  assert.equal(j.reconnectReason, livekit.ReconnectReason.RR_SIGNAL_DISCONNECTED);
  assert.equal(j.participantSid, 'PA_x');
  const res = LK.SignalResponse.fromBinary(livekit.SignalResponse.encode({ mediaSectionsRequirement: { numAudios: 1, numVideos: 2 } }).finish());
  assert.equal(res.message.case, 'mediaSectionsRequirement');
  assert.equal((res.message.value as InstanceType<typeof LK.MediaSectionsRequirement>).numVideos, 2);
});

test('DataPacket: every payload kind survives Strand decoding, stamping and re-encoding', () => {
  const packets = [
    new LK.DataPacket({ kind: LK.DataPacket_Kind.RELIABLE, destinationIdentities: ['bob'], value: { case: 'user', value: new LK.UserPacket({ payload: new Uint8Array([1, 2, 3]), topic: 't', destinationIdentities: ['bob'] }) } }),
    new LK.DataPacket({ value: { case: 'chatMessage', value: new LK.ChatMessage({ id: 'c1', message: 'hi', timestamp: BigInt(5) }) } }),
    new LK.DataPacket({ value: { case: 'rpcRequest', value: new LK.RpcRequest({ id: 'r1', method: 'm', payload: 'p', responseTimeoutMs: 1000, version: 1 }) } }),
    new LK.DataPacket({ kind: LK.DataPacket_Kind.LOSSY, value: { case: 'streamChunk', value: new LK.DataStream_Chunk({ streamId: 's', chunkIndex: BigInt(2), content: new Uint8Array([9]) }) }, sequence: 4 }),
  ];
  for (const p of packets) {
    const ours = livekit.DataPacket.decode(p.toBinary());
    ours.participantIdentity = 'alice';
    ours.participantSid = 'PA_a';
    const back = LK.DataPacket.fromBinary(livekit.DataPacket.encode(ours).finish());
    assert.equal(back.participantIdentity, 'alice');
    assert.equal(back.participantSid, 'PA_a');
    assert.ok(back.value.value?.equals(p.value.value as never), `${p.value.case} payload unchanged`);
    assert.deepEqual(back.destinationIdentities, p.destinationIdentities);
  }
});
