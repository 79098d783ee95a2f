// The control side of resume, against a stand-in media pool: who stays while away, what a
// resume sends and in which order, and when the client is told to join again instead.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { livekit } from '../../src/proto/index.js';
import type { ClaimGrants } from '../../src/main/auth/grants.js';
import { defaultConfig } from '../../src/main/config.js';
import { createLogger } from '../../src/main/logger.js';
import type { MediaPool } from '../../src/main/media-pool.js';
import type { SignalSink } from '../../src/main/rooms/participant.js';
import { ResumeError, RoomManager } from '../../src/main/rooms/room-manager.js';
import { RoomObservers } from '../../src/main/rooms/room-observer.js';
import { applySyncState } from '../../src/main/rooms/session-resume.js';
import type { MediaCommand } from '../../src/workers/protocol.js';

class Sink implements SignalSink {
  readonly got: livekit.ISignalResponse[] = [];
  closed = false;
  send(msg: livekit.ISignalResponse): void {
    this.got.push(msg);
  }
  close(): void {
    this.closed = true;
  }
  kinds(): string[] {
    return this.got.map((m) => Object.keys(m)[0]!);
  }
}

/** A media pool that answers every command at once, recording them. */
function fakePool(usable = true): { pool: MediaPool; ops: MediaCommand[] } {
  const ops: MediaCommand[] = [];
  const results: Partial<Record<MediaCommand['op'], unknown>> = {
    join: { subscriberOffer: 'v=0 subscriber offer' },
    resume: { lastMessageSeq: 7, subscriberOffer: 'v=0 again', usable },
  };
  const pool = {
    size: 1,
    placeRoom: () => 0,
    releaseRoom: () => undefined,
    link: async () => undefined,
    run: async (_slot: number, cmd: MediaCommand) => {
      ops.push(cmd);
      return results[cmd.op] ?? null;
    },
  } as unknown as MediaPool;
  return { pool, ops };
}

function manager(usable = true): { rooms: RoomManager; ops: MediaCommand[] } {
  const { pool, ops } = fakePool(usable);
  const log = createLogger('silent');
  const cfg = defaultConfig(true);
  const rooms = new RoomManager(cfg, pool, {
    pool, log, iceServers: [{ urls: ['stun:example.test'] }], observers: new RoomObservers(),
    serverInfo: { version: 'test', protocol: 17 },
  }, log);
  return { rooms, ops };
}

function claims(identity: string): ClaimGrants {
  return {
    identity, name: identity, metadata: '', attributes: {}, video: { room: 'r', roomJoin: true },
  } as unknown as ClaimGrants;
}

const params = { autoSubscribe: true, clientProtocol: 17, singlePeerConnection: false };

test('a resume gets ReconnectResponse first, then who left meanwhile, everyone, the room, and the subscriber offer', async () => {
  const { rooms, ops } = manager();
  const first = new Sink();
  const { room, participant: alice } = await rooms.join(claims('alice'), params, first);
  const { participant: bob } = await rooms.join(claims('bob'), params, new Sink());
  alice.wasActive = true;
  await rooms.signalLost(room, alice, first);
  assert.ok(alice.away, 'alice stays, away');
  assert.equal(room.participants.size, 2);
  assert.ok(ops.some((c) => c.op === 'signalLost'), 'her worker holds her data');
  await rooms.leave(room, bob, livekit.DisconnectReason.CLIENT_INITIATED, false);

  const second = new Sink();
  const resumed = await rooms.resume(claims('alice'), alice.sid, second);
  assert.equal(resumed.participant, alice, 'the same participant');
  assert.deepEqual(second.kinds(), ['reconnect', 'update', 'update', 'roomUpdate', 'offer']);
  assert.equal(second.got[0]!.reconnect!.lastMessageSeq, 7);
  assert.equal(second.got[1]!.update!.participants![0]!.identity, 'bob');
  assert.equal(second.got[1]!.update!.participants![0]!.state, livekit.ParticipantInfo.State.DISCONNECTED);
  assert.ok(second.got[2]!.update!.participants!.some((p) => p.sid === alice.sid), 'her own info is in the full update');
  assert.equal(alice.sink, second);
  assert.ok(!alice.away);
});

test('a participant whose connection never came up leaves at once when its signal drops', async () => {
  const { rooms } = manager();
  const sink = new Sink();
  const { room, participant } = await rooms.join(claims('carol'), params, sink);
  await rooms.signalLost(room, participant, sink);
  assert.ok(participant.closed);
  assert.equal(participant.disconnectReason, livekit.DisconnectReason.SIGNAL_CLOSE);
});

test('a resume of another sid, an unknown identity, or of connections that are gone is refused', async () => {
  const { rooms } = manager(false);
  const sink = new Sink();
  const { room, participant } = await rooms.join(claims('dave'), params, sink);
  participant.wasActive = true;
  await assert.rejects(rooms.resume(claims('dave'), 'PA_other', new Sink()), ResumeError);
  await assert.rejects(rooms.resume(claims('erin'), '', new Sink()), ResumeError);
  await rooms.signalLost(room, participant, sink);
  await assert.rejects(rooms.resume(claims('dave'), participant.sid, new Sink()), ResumeError);
  assert.ok(participant.closed, 'its connections are gone: it is removed, and the client joins again');
});

test('a resume on a new socket while the old one is open closes the old one; its close is then no signal loss', async () => {
  const { rooms } = manager();
  const old = new Sink();
  const { room, participant } = await rooms.join(claims('fay'), params, old);
  participant.wasActive = true;
  const fresh = new Sink();
  await rooms.resume(claims('fay'), participant.sid, fresh);
  assert.ok(old.closed);
  await rooms.signalLost(room, participant, old);
  assert.ok(!participant.away && !participant.closed);
});

test("a Strand-side connection failure asks the client to resume (leave RESUME)", async () => {
  const { rooms } = manager();
  const sink = new Sink();
  const { room, participant } = await rooms.join(claims('gus'), params, sink);
  room.onMediaEvent(participant, { ev: 'pcState', participantSid: participant.sid, target: 'publisher', state: 'failed' });
  const leave = sink.got.find((m) => m.leave)!.leave!;
  assert.equal(leave.action, livekit.LeaveRequest.Action.RESUME);
  assert.ok(sink.closed);
  assert.ok(!participant.closed, 'the participant stays for its resume');
});

test('SyncState: a published track Strand does not know means a full reconnect; known ones pass', async () => {
  const { rooms } = manager();
  const { room, participant } = await rooms.join(claims('hal'), params, new Sink());
  participant.tracks.set('TR_known', { sid: 'TR_known', type: livekit.TrackType.AUDIO });
  assert.equal(await applySyncState(room, participant, { publishTracks: [{ cid: 'c', track: { sid: 'TR_known' } }] }), true);
  assert.equal(await applySyncState(room, participant, { publishTracks: [{ cid: 'c', track: { sid: 'TR_gone' } }] }), false);
});
