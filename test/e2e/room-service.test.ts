// Every RoomService method through livekit-server-sdk's RoomServiceClient, against a running
// Strand with two @livekit/rtc-node participants, checking what each call does on the client side.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DisconnectReason, RoomEvent, dispose, type RemoteTrackPublication } from '@livekit/rtc-node';
import { DataPacket_Kind, RoomServiceClient, TwirpError } from 'livekit-server-sdk';
import { NodeParticipant } from '../helpers/rtc-node.js';
import { startStrand, workerStats, type StrandProcess } from '../helpers/strand-process.js';
import { DEV_KEY, DEV_SECRET, joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

let strand: StrandProcess;
let svc: RoomServiceClient;

before(async () => {
  strand = await startStrand({ workers: 1 });
  svc = new RoomServiceClient(strand.httpUrl, DEV_KEY, DEV_SECRET);
});

after(async () => {
  await dispose();
  assert.equal(await strand.stop(), 0, strand.stderr());
});

/** Collects what a participant's Room emits, to wait for a given event. */
function recorder(p: NodeParticipant): Array<[string, unknown[]]> {
  const seen: Array<[string, unknown[]]> = [];
  for (const ev of [
    RoomEvent.ParticipantMetadataChanged, RoomEvent.ParticipantNameChanged, RoomEvent.ParticipantAttributesChanged,
    RoomEvent.RoomMetadataChanged, RoomEvent.DataReceived, RoomEvent.TrackMuted, RoomEvent.ParticipantDisconnected, RoomEvent.Disconnected,
  ]) {
    p.room.on(ev, (...args: unknown[]) => seen.push([ev, args]));
  }
  return seen;
}

async function stats(): Promise<{ downTracks: number }> {
  const all = await workerStats(strand.httpUrl);
  return { downTracks: all.reduce((n, w) => n + w.downTracks, 0) };
}

const saw = (log: Array<[string, unknown[]]>, ev: string, pred: (args: unknown[]) => boolean = () => true) =>
  log.some(([e, args]) => e === ev && pred(args));

test('every RoomService method works against a live room, and clients see the effect', { timeout: 120_000 }, async () => {
  const name = `svc-${Date.now()}`;
  const created = await svc.createRoom({ name, metadata: 'first', emptyTimeout: 120, maxParticipants: 10 });
  assert.equal(created.name, name);
  assert.match(created.sid, /^RM_/);
  assert.equal(created.metadata, 'first');
  assert.equal(created.emptyTimeout, 120);
  assert.equal(created.maxParticipants, 10);
  const again = await svc.createRoom({ name, metadata: 'ignored' });
  assert.equal(again.sid, created.sid, 'CreateRoom on an existing room returns it');

  const listed = await svc.listRooms([name]);
  assert.deepEqual(listed.map((r) => [r.name, r.metadata]), [[name, 'first']]);
  assert.ok((await svc.listRooms()).some((r) => r.name === name));

  const alice = new NodeParticipant();
  const bob = new NodeParticipant();
  try {
    await alice.connect(strand.url, await joinToken(name, 'alice'));
    const trackSid = await alice.publishTone();
    const aliceLog = recorder(alice);
    const bobLog = recorder(bob);
    await bob.connect(strand.url, await joinToken(name, 'bob'));
    await waitFor(() => bob.totalFrames() > 20, 20_000, 'bob to hear alice');

    // ListParticipants / GetParticipant
    const participants = await svc.listParticipants(name);
    assert.deepEqual(participants.map((p) => p.identity).sort(), ['alice', 'bob']);
    const a = await svc.getParticipant(name, 'alice');
    assert.equal(a.tracks.length, 1);
    assert.equal(a.tracks[0]!.sid, trackSid);
    assert.equal(a.tracks[0]!.type, 0 /* AUDIO */);

    // UpdateParticipant: metadata, name and attributes reach bob himself and alice.
    const updated = await svc.updateParticipant(name, 'bob', { metadata: 'vip', name: 'Bobby', attributes: { role: 'speaker', team_name: 'blue' } });
    assert.equal(updated.metadata, 'vip');
    assert.equal(updated.name, 'Bobby');
    assert.deepEqual({ ...updated.attributes }, { role: 'speaker', team_name: 'blue' });
    await waitFor(() => saw(aliceLog, RoomEvent.ParticipantMetadataChanged, ([m]) => m === 'vip'), 10_000, 'alice to see bob\'s metadata');
    await waitFor(() => saw(bobLog, RoomEvent.ParticipantNameChanged, ([n]) => n === 'Bobby'), 10_000, 'bob to see his new name');
    await waitFor(() => bob.room.localParticipant?.attributes.team_name === 'blue', 10_000, 'bob\'s attributes, snake_case key kept');

    // UpdateRoomMetadata: a RoomUpdate to everyone.
    const room = await svc.updateRoomMetadata(name, 'second');
    assert.equal(room.metadata, 'second');
    await waitFor(() => saw(bobLog, RoomEvent.RoomMetadataChanged, ([m]) => m === 'second'), 10_000, 'bob to see the room metadata');
    await waitFor(() => alice.room.metadata === 'second', 10_000, 'alice to see the room metadata');

    // SendData: to bob only, with a topic.
    await svc.sendData(name, new TextEncoder().encode('hello bob'), DataPacket_Kind.RELIABLE, { destinationIdentities: ['bob'], topic: 'greeting' });
    await waitFor(() => saw(bobLog, RoomEvent.DataReceived, ([payload, , , topic]) =>
      new TextDecoder().decode(payload as Uint8Array) === 'hello bob' && topic === 'greeting'), 10_000, 'bob to receive the data');
    await svc.sendData(name, new TextEncoder().encode('to all'), DataPacket_Kind.LOSSY, { topic: 'all' });
    await waitFor(() => saw(aliceLog, RoomEvent.DataReceived, ([payload]) => new TextDecoder().decode(payload as Uint8Array) === 'to all'), 10_000, 'alice to receive the broadcast');
    assert.ok(!saw(aliceLog, RoomEvent.DataReceived, ([payload]) => new TextDecoder().decode(payload as Uint8Array) === 'hello bob'), 'alice must not get bob\'s data');

    // UpdateSubscriptions: bob unsubscribes from the track (its audio stops reaching him), then
    // subscribes again (it flows again).
    await svc.updateSubscriptions(name, 'bob', [trackSid], false);
    await waitFor(() => stats().then((s) => s.downTracks === 0), 10_000, 'the downtrack to bob to be removed');
    await waitFor(async () => {
      const before = bob.totalFrames();
      await new Promise((r) => setTimeout(r, 1000));
      return bob.totalFrames() - before < 10;
    }, 10_000, 'bob to stop receiving alice\'s audio');
    await svc.updateSubscriptions(name, 'bob', [trackSid], true);
    await waitFor(() => stats().then((s) => s.downTracks === 1), 10_000, 'the downtrack to bob to be back');
    await waitFor(async () => {
      const before = bob.totalFrames();
      await new Promise((r) => setTimeout(r, 1000));
      return bob.totalFrames() - before > 50;
    }, 10_000, 'bob to receive alice\'s audio again');

    // MutePublishedTrack: the track is muted for its subscriber.
    const muted = await svc.mutePublishedTrack(name, 'alice', trackSid, true);
    assert.equal(muted.sid, trackSid);
    assert.equal(muted.muted, true);
    await waitFor(() => saw(bobLog, RoomEvent.TrackMuted, ([pub]) => (pub as RemoteTrackPublication).sid === trackSid), 10_000, 'bob to see the track muted');
    await assert.rejects(svc.mutePublishedTrack(name, 'alice', trackSid, false), (err: TwirpError) => err.status === 412 && err.code === 'failed_precondition');

    // RemoveParticipant: bob is told PARTICIPANT_REMOVED, alice sees him go.
    await svc.removeParticipant(name, 'bob');
    await waitFor(() => saw(bobLog, RoomEvent.Disconnected, ([r]) => r === DisconnectReason.PARTICIPANT_REMOVED), 10_000, 'bob to be removed');
    await waitFor(() => saw(aliceLog, RoomEvent.ParticipantDisconnected), 10_000, 'alice to see bob leave');
    assert.deepEqual((await svc.listParticipants(name)).map((p) => p.identity), ['alice']);

    // DeleteRoom: alice is told ROOM_DELETED; the room is gone.
    await svc.deleteRoom(name);
    await waitFor(() => saw(aliceLog, RoomEvent.Disconnected, ([r]) => r === DisconnectReason.ROOM_DELETED), 10_000, 'alice to see the room deleted');
    assert.deepEqual(await svc.listRooms([name]), []);
    await assert.rejects(svc.listParticipants(name), (err: TwirpError) => err.status === 404 && err.code === 'not_found');
  } finally {
    await bob.close();
    await alice.close();
  }
});
