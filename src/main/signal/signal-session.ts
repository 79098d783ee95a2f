// One signal WebSocket: decodes SignalRequests, answers in the client's mode (binary protobuf
// or JSON text), and turns each request into a room operation. Requests are handled in order.
// A session either joins (start) or resumes an earlier session of the same participant
// (resume); when its socket drops without a leave, the participant may resume elsewhere.
import { TokenBucket } from '../../limits/token-bucket.js';
import { decodeSignalRequest, encodeSignalResponse, livekit } from '../../proto/index.js';
import type { ClaimGrants } from '../auth/grants.js';
import type { Logger } from '../logger.js';
import { limitViolation } from '../rooms/limits.js';
import { mergedAttributes, type Participant, type SignalSink } from '../rooms/participant.js';
import type { Room } from '../rooms/room.js';
import { JoinError, ResumeError, type JoinParams, type RoomManager } from '../rooms/room-manager.js';
import { applySyncState } from '../rooms/session-resume.js';

/** What the session needs of the uWebSockets.js socket. */
export interface SignalSocket {
  send(data: Uint8Array | string, isBinary: boolean): number;
  end(code: number, reason: string): void;
  getBufferedAmount(): number;
}

/** Counts signal messages (livekit_node_messages). */
export interface SignalCounters {
  signalMessage(direction: 'incoming' | 'outgoing', ok: boolean): void;
  /** A message dropped for going over limit.signal_messages_per_second. */
  signalDropped(): void;
}

/** A client this far behind on reading its signal socket is disconnected. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** WebSocket close code for a frame that is not a valid SignalRequest (RFC 6455: invalid payload data). */
export const CLOSE_INVALID_PAYLOAD = 1007;

export class SignalSession implements SignalSink {
  /** limit.signal_messages_per_second for this client's frames, and how many were dropped. */
  private readonly inbound: TokenBucket;
  private dropped = 0;
  private binary = true;
  private open = true;
  private room: Room | null = null;
  private participant: Participant | null = null;
  private chain: Promise<void>;
  private joined!: () => void;

  constructor(
    private readonly socket: SignalSocket,
    private readonly rooms: RoomManager,
    private readonly log: Logger,
    private readonly counters?: SignalCounters,
    messagesPerSecond = 0,
  ) {
    this.chain = new Promise((resolve) => { this.joined = resolve; });
    this.inbound = new TokenBucket(messagesPerSecond, messagesPerSecond);
  }

  /**
   * Joins the room named in the token; JoinResponse goes out as the first frame. `offer` is
   * the publisher offer a v1 client sends with its join: it is answered right after.
   */
  start(claims: ClaimGrants, params: JoinParams, offer?: livekit.ISessionDescription): void {
    this.rooms.join(claims, params, this).then(({ room, participant }) => {
      this.room = room;
      this.participant = participant;
      if (!this.open) void this.rooms.signalLost(room, participant, this);
      // The offer that came with the join is answered before anything the client sent since.
      if (offer?.sdp) void this.handleOrReport(new livekit.SignalRequest({ offer })).then(this.joined);
      else this.joined();
    }, (err: unknown) => {
      const status = err instanceof JoinError ? err.status : 500;
      this.log.warn({ err: (err as Error).message, status }, 'join failed');
      this.send({ leave: { reason: livekit.DisconnectReason.JOIN_FAILURE, action: livekit.LeaveRequest.Action.DISCONNECT } });
      this.close(1011, 'join failed');
      this.joined();
    });
  }

  /**
   * Resumes the participant's session (reconnect=1): ReconnectResponse is the first frame.
   * Nothing to resume gets leave RECONNECT, and the client joins again.
   */
  resume(claims: ClaimGrants, participantSid: string): void {
    const waiting = this.rooms.rooms.get(claims.video.room ?? '')?.participantByIdentity(claims.identity);
    if (waiting?.simulateOnResume === 'disconnectSignalOnResumeNoMessages') {
      waiting.simulateOnResume = null;
      this.close(1000, 'simulated signal loss on resume');
      this.joined();
      return;
    }
    this.rooms.resume(claims, participantSid, this).then(({ room, participant }) => {
      this.room = room;
      this.participant = participant;
      if (!this.open) void this.rooms.signalLost(room, participant, this);
      this.joined();
      if (participant.simulateOnResume !== null) {
        participant.simulateOnResume = null;
        this.close(1000, 'simulated signal loss on resume');
      }
    }, (err: unknown) => {
      const known = err instanceof ResumeError;
      this.log.info({ err: (err as Error).message }, known ? 'resume refused, full reconnect' : 'resume failed');
      this.send({ leave: { reason: livekit.DisconnectReason.STATE_MISMATCH, action: livekit.LeaveRequest.Action.RECONNECT, canReconnect: true } });
      this.close(1000, 'cannot resume');
      this.joined();
    });
  }

  send(msg: livekit.ISignalResponse): void {
    if (!this.open) return;
    if (this.socket.getBufferedAmount() > MAX_BUFFERED_BYTES) {
      this.close(1008, 'signal client too slow');
      return;
    }
    this.socket.send(encodeSignalResponse(msg, this.binary), this.binary);
    this.counters?.signalMessage('outgoing', true);
  }

  close(code: number, reason: string): void {
    if (!this.open) return;
    this.open = false;
    try {
      this.socket.end(code, reason);
    } catch {
      // already closed by the peer
    }
  }

  onFrame(data: ArrayBuffer, isBinary: boolean): void {
    // A flood is dropped before it is decoded or queued behind this participant's requests;
    // the socket stays open (a second's worth of messages may come at once).
    if (!this.inbound.take()) {
      this.counters?.signalDropped();
      if (this.dropped++ === 0) this.log.warn({ participant: this.participant?.identity }, 'signal messages over limit.signal_messages_per_second are dropped');
      return;
    }
    let req: livekit.SignalRequest;
    try {
      // uWebSockets.js reuses `data` after this callback returns: decode from a copy.
      req = decodeSignalRequest(new Uint8Array(data).slice().buffer, isBinary);
    } catch (err) {
      this.counters?.signalMessage('incoming', false);
      this.log.info({ err: (err as Error).message }, 'malformed signal frame, closing socket');
      this.close(CLOSE_INVALID_PAYLOAD, 'malformed signal message');
      return;
    }
    this.binary = isBinary;
    this.counters?.signalMessage('incoming', true);
    // Liveness answers do not wait behind media operations.
    if (req.message === 'ping') {
      this.send({ pong: Date.now() });
      return;
    }
    if (req.message === 'pingReq') {
      this.send({ pongResp: { lastPingTimestamp: req.pingReq?.timestamp ?? 0, timestamp: Date.now() } });
      return;
    }
    this.enqueue(req);
  }

  private enqueue(req: livekit.SignalRequest): void {
    this.chain = this.chain.then(() => this.handleOrReport(req));
  }

  /** Handles a request; a failure is answered with request_response INVALID_REQUEST. */
  private handleOrReport(req: livekit.SignalRequest): Promise<void> {
    return this.handle(req).catch((err: unknown) => {
      this.log.warn({ err: (err as Error).message, request: req.message }, 'signal request failed');
      this.send({ requestResponse: { reason: livekit.RequestResponse.Reason.INVALID_REQUEST, message: String((err as Error).message ?? err) } });
    });
  }

  /** The socket closed: without a leave first, the participant may still resume. */
  onClose(): void {
    this.open = false;
    const { room, participant } = this;
    if (room && participant) void this.rooms.signalLost(room, participant, this);
  }

  private async handle(req: livekit.SignalRequest): Promise<void> {
    const room = this.room;
    const p = this.participant;
    if (!room || !p || p.closed) return;
    switch (req.message) {
      case 'offer':
        await room.publisherOffer(p, req.offer!);
        break;
      case 'answer':
        await room.subscriberAnswer(p, req.answer?.sdp ?? '');
        break;
      case 'trickle': {
        const t = req.trickle!;
        let init: unknown;
        try {
          init = JSON.parse(t.candidateInit ?? '');
        } catch {
          throw new Error('trickle candidateInit is not JSON');
        }
        // `null` (or a candidate that is null or empty) is the end of candidates, as in the browser.
        if (init === null) break;
        if (typeof init !== 'object' || Array.isArray(init)) throw new Error('trickle candidateInit is not an RTCIceCandidateInit object');
        const candidate = (init as { candidate?: unknown }).candidate;
        if (candidate === undefined || candidate === null || candidate === '') break;
        if (typeof candidate !== 'string') throw new Error('trickle candidate is not a string');
        await room.remoteCandidate(p, t.target === livekit.SignalTarget.SUBSCRIBER ? 'subscriber' : 'publisher', candidate);
        break;
      }
      case 'addTrack':
        room.addTrack(p, req.addTrack!);
        break;
      case 'mute':
        room.setMuted(p, req.mute?.sid ?? '', req.mute?.muted ?? false);
        break;
      case 'subscription': {
        const s = req.subscription!;
        const sids = [...(s.trackSids ?? []), ...(s.participantTracks ?? []).flatMap((pt) => pt.trackSids ?? [])];
        for (const sid of sids) {
          if (s.subscribe) await room.subscribe(p, sid);
          else await room.unsubscribe(p, sid);
        }
        break;
      }
      case 'leave':
        await this.rooms.leave(room, p, livekit.DisconnectReason.CLIENT_INITIATED, false);
        this.close(1000, 'client left');
        break;
      case 'updateMetadata': {
        const u = req.updateMetadata!;
        if (!p.permissions.canUpdateMetadata) {
          this.send({ requestResponse: { requestId: u.requestId ?? 0, reason: livekit.RequestResponse.Reason.NOT_ALLOWED, message: 'not allowed to update metadata', updateMetadata: u } });
          break;
        }
        const violation = limitViolation(this.rooms.limits, { name: u.name ?? undefined, metadata: u.metadata ?? undefined, attributes: mergedAttributes(p.attributes, u.attributes ?? undefined) });
        if (violation) {
          this.send({ requestResponse: { requestId: u.requestId ?? 0, reason: livekit.RequestResponse.Reason.LIMIT_EXCEEDED, message: violation, updateMetadata: u } });
          break;
        }
        await room.updateParticipant(p, { name: u.name ?? undefined, metadata: u.metadata ?? undefined, attributes: u.attributes ?? undefined });
        this.send({ requestResponse: { requestId: u.requestId ?? 0, reason: livekit.RequestResponse.Reason.OK, updateMetadata: u } });
        break;
      }
      case 'trackSetting':
        await room.trackSettings(p, req.trackSetting!);
        break;
      case 'syncState':
        if (!(await applySyncState(room, p, req.syncState!))) {
          this.log.info({ participant: p.sid }, 'sync state does not match, full reconnect');
          await this.rooms.leave(room, p, livekit.DisconnectReason.STATE_MISMATCH, true, livekit.LeaveRequest.Action.RECONNECT);
        }
        break;
      case 'simulate':
        await this.simulate(room, p, req.simulate!);
        break;
      case 'updateVideoTrack':
      case 'updateAudioTrack':
      case 'subscriptionPermission':
      case 'updateLayers':
        // Accepted; acted on by later work (simulcast, permissions, resume).
        break;
      default:
        this.log.debug({ request: req.message }, 'unsupported signal request');
    }
  }

  /** SimulateScenario, as LiveKit's server answers it, so the SDKs' fault injection works. */
  private async simulate(room: Room, p: Participant, s: livekit.ISimulateScenario): Promise<void> {
    const m = livekit.SimulateScenario.fromObject(s);
    this.log.info({ participant: p.sid, scenario: m.scenario }, 'simulating');
    switch (m.scenario) {
      case 'speakerUpdate':
        room.simulateSpeaker(p, m.speakerUpdate ?? 0);
        break;
      case 'nodeFailure':
      case 'migration':
        // The session is dropped without a leave: the client's resume finds nothing and it
        // joins again.
        await this.rooms.leave(room, p, m.scenario === 'migration' ? livekit.DisconnectReason.MIGRATION : livekit.DisconnectReason.SIGNAL_CLOSE, false);
        this.close(1000, 'simulated node failure');
        break;
      case 'serverLeave':
        await this.rooms.leave(room, p, livekit.DisconnectReason.SERVER_SHUTDOWN, true);
        break;
      case 'switchCandidateProtocol':
        // Strand has only UDP; what LiveKit does next, restarting ICE, is what a resume does.
        p.send({ leave: { reason: livekit.DisconnectReason.UNKNOWN_REASON, action: livekit.LeaveRequest.Action.RESUME, canReconnect: true } });
        this.close(1000, 'simulated ICE restart');
        break;
      case 'disconnectSignalOnResume':
      case 'disconnectSignalOnResumeNoMessages':
        p.simulateOnResume = m.scenario;
        break;
      case 'leaveRequestFullReconnect':
        await this.rooms.leave(room, p, livekit.DisconnectReason.UNKNOWN_REASON, true, livekit.LeaveRequest.Action.RECONNECT);
        break;
      default:
        // subscriber_bandwidth: Strand has no simulated bandwidth limit.
        this.log.debug({ scenario: m.scenario }, 'scenario not simulated');
    }
  }
}
