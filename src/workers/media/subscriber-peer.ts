// The v0 PeerConnection a participant subscribes on (Strand offers). Owns the native transport
// track the participant's downstream sends on, the `_reliable`/`_lossy` data channels, and the
// real SDP: one section per subscription, in the order they came. A resume of a participant
// whose connection is down restarts it with an offer carrying new ICE credentials, from a new
// native connection (see Handover).
import { parseSdp } from '../sdp/publisher-sdp.js';
import { candidateInits, subscriberViewAnswer, writeSubscriberOffer, type SubscriberSection } from '../sdp/subscriber-sdp.js';
import { SdpError, newSdpSession, readTransportParams, type TransportParams } from '../sdp/transport-params.js';
import { isRtcp } from '../../rtp/packet.js';
import { guard, holdUntilClosed, type DataChannel, type Native, type RtcConfig } from '../native.js';
import type { Downstream, Subscription } from './downstream.js';
import { Handover, NativeConnection, gatheringComplete, randomSsrc } from './peer-util.js';

const TRANSPORT_MID = 't';

/**
 * Test hook: STRAND_TEST_RESTART_SUBSCRIBER=1 restarts a v0 subscriber connection on every
 * resume, even one that is up, so that the restart path can be tested on loopback.
 */
const ALWAYS_RESTART = process.env.STRAND_TEST_RESTART_SUBSCRIBER === '1';

/**
 * After the client's answer, how long Strand waits for the client's first candidate before it
 * sends its own anyway (for a client that trickles none, or late). See handleAnswer for why.
 */
const CANDIDATE_WAIT_MS = 100;

export interface SubscriberPeerEvents {
  onStateChange(state: string): void;
  onOffer(sdp: string): void;
  /** A local candidate to trickle to the client. */
  onCandidate(candidateInit: string): void;
  /** The reliable data channel is open (again, after a restart). */
  onReliableOpen(): void;
  onError(where: string, err: unknown): void;
}

export class SubscriberPeer {
  private conn: NativeConnection;
  /** The connection a restart replaces, until the new one is connected, and the track in use. */
  private readonly handover = new Handover();
  /** Restarts answered with a new native connection. */
  restarts = 0;
  private reliable: DataChannel | null = null;
  private lossy: DataChannel | null = null;
  private nativeOffer = '';
  private transport: TransportParams | null = null;
  private readonly session = newSdpSession();
  private readonly sections: SubscriberSection[] = [];
  /** The section of each subscribed track, by track sid. */
  private readonly sectionOf = new Map<string, SubscriberSection>();
  private offering = false;
  private dirty = false;
  private closed = false;
  /** Pending while Strand's own candidates wait for the client's first (handleAnswer). */
  private candidateTimer: NodeJS.Timeout | null = null;
  private readonly cname = `strand-${randomSsrc().toString(36)}`;

  constructor(
    private readonly native: Native,
    private readonly sid: string,
    private readonly config: RtcConfig,
    private readonly downstream: Downstream,
    private readonly events: SubscriberPeerEvents,
  ) {
    this.conn = new NativeConnection('subscriber', events.onError);
  }

  /** The connection as libdatachannel last reported it. */
  get state(): string {
    return this.conn.state;
  }

  /** Creates the native connection and returns the first offer (data channels only, or fast start). */
  async start(): Promise<string> {
    await this.openConnection(null);
    this.offering = true;
    return this.writeOffer();
  }

  /**
   * After a resume: the offer again. A connection that is still up keeps its ICE credentials
   * (only the signal was lost; the client just waits for it to be connected). Any other is
   * restarted: an offer with new ICE credentials from a new native connection, with the data
   * channels recreated as negotiated channels with the same ids; the old connection carries
   * the downstream until the new one is connected.
   *
   * Why not restart a healthy one too: Chromium, as the answerer, keeps sending its DTLS
   * handshake over the old candidate pair until that pair times out (about 5 s), and the old
   * native connection, closed by the client's DTLS restart, no longer owns that address in
   * libjuice's UDP mux; so the new connection would take some 6 s instead of 0.1 s.
   */
  async resumeOffer(): Promise<{ offer: string; restarted: boolean } | null> {
    if (this.closed || !this.transport) return null;
    const restarted = ALWAYS_RESTART || this.conn.state !== 'connected';
    if (restarted && !(await this.restart())) return null;
    this.dirty = false;
    this.offering = true;
    return { offer: this.writeOffer(), restarted };
  }

  private async restart(): Promise<boolean> {
    let ids: { reliable: number; lossy: number };
    try {
      ids = { reliable: this.reliable!.getId(), lossy: this.lossy!.getId() };
    } catch (err) {
      this.events.onError('subscriber.restart', err);
      return false;
    }
    this.handover.begin(this.conn, [this.reliable, this.lossy]);
    this.restarts++;
    await this.openConnection(ids);
    return true;
  }

  private async openConnection(negotiated: { reliable: number; lossy: number } | null): Promise<void> {
    const conn = new NativeConnection('subscriber', this.events.onError);
    this.conn = conn;
    this.stopCandidateTimer();
    const pc = conn.open(this.native, `sub-${this.sid}-${this.restarts}`, this.config, (state) => {
      if (conn !== this.conn) return; // a replaced connection
      this.events.onStateChange(state);
      if (state === 'connected') this.onConnected();
    });
    const media = new this.native.Video(TRANSPORT_MID, 'SendOnly');
    media.addVP8Codec(96);
    const track = holdUntilClosed(pc.addTrack(media), 'subscriber.track.onClosed');
    track.onMessage(guard('subscriber.onMessage', (buf: Buffer) => {
      if (isRtcp(buf)) this.downstream.onFeedback(buf, buf.length);
    }));
    if (this.handover.attachTrack(track)) this.downstream.setTransport(track);
    this.reliable = holdUntilClosed(pc.createDataChannel('_reliable', negotiated ? { negotiated: true, id: negotiated.reliable } : {}), 'subscriber.dc.onClosed');
    this.lossy = holdUntilClosed(pc.createDataChannel('_lossy', { unordered: true, maxRetransmits: 0, ...(negotiated ? { negotiated: true, id: negotiated.lossy } : {}) }), 'subscriber.dc.onClosed');
    for (const dc of [this.reliable, this.lossy]) {
      // Data arriving on the subscriber PC is not expected from LiveKit clients; drain it.
      dc.onMessage(guard('subscriber.dc.onMessage', () => undefined));
    }
    this.reliable.onOpen(guard('subscriber.dc.onOpen', () => this.events.onReliableOpen()));
    pc.setLocalDescription('offer');
    await gatheringComplete(pc);
    const local = pc.localDescription();
    if (!local) throw new SdpError('libdatachannel produced no offer');
    this.nativeOffer = local.sdp;
    this.transport = readTransportParams(parseSdp(local.sdp));
  }

  /** The current connection is up: after a restart, it takes over and the old one goes soon. */
  private onConnected(): void {
    const switched = this.handover.connected();
    if (switched !== null) {
      this.downstream.setTransport(switched);
      this.downstream.requestKeyframes();
    }
  }

  private writeOffer(): string {
    this.session.version++;
    return writeSubscriberOffer(this.transport!, this.sections, this.session);
  }

  handleAnswer(sdp: string): void {
    if (this.closed) return;
    if (!this.offering) throw new SdpError('answer without an outstanding subscriber offer');
    const view = subscriberViewAnswer(this.nativeOffer, sdp);
    const pc = this.conn.pc;
    // Only the first answer reaches libdatachannel; later ones change Strand's sections only.
    if (pc && pc.remoteDescription() === null) {
      pc.setRemoteDescription(view, 'answer');
      const known = this.conn.candidates.flush() + (/^a=candidate:/m.test(view) ? 1 : 0);
      // Strand's candidates go out only now, and preferably once it has one of the client's:
      // - Before the answer is applied, the client could reach a libdatachannel that does not
      //   know its DTLS fingerprint yet.
      // - With a client candidate in hand, Strand's own check usually succeeds before the
      //   client's ClientHello arrives. One that arrives before Strand's ICE is connected is
      //   buffered by libdatachannel and can be stranded there until the client resends it
      //   (OpenSSL's first resend is after 1 s). The README's bench section has the trace.
      if (known > 0) this.sendCandidates();
      else this.candidateTimer = setTimeout(() => this.sendHeldCandidates(), CANDIDATE_WAIT_MS);
    }
    this.offering = false;
    if (this.dirty) this.renegotiate();
  }

  addRemoteCandidate(candidate: string): void {
    this.conn.candidates.add(candidate, TRANSPORT_MID);
    this.sendHeldCandidates();
  }

  /** Sends Strand's candidates if they are still waiting for the client's. */
  private sendHeldCandidates(): void {
    if (this.candidateTimer === null) return;
    this.stopCandidateTimer();
    this.sendCandidates();
  }

  /** Trickles Strand's candidates to the client (once per native connection). */
  private sendCandidates(): void {
    for (const init of candidateInits(this.nativeOffer)) this.events.onCandidate(init);
  }

  private stopCandidateTimer(): void {
    if (this.candidateTimer !== null) clearTimeout(this.candidateTimer);
    this.candidateTimer = null;
  }

  /** Sends a new offer now, or once the outstanding one is answered. */
  private renegotiate(): void {
    if (this.closed || !this.transport) return;
    if (this.offering) {
      this.dirty = true;
      return;
    }
    this.dirty = false;
    this.offering = true;
    this.events.onOffer(this.writeOffer());
  }

  /** A new subscription gets a section of its own; the client learns it from a new offer. */
  addSection(sub: Subscription): void {
    if (this.closed) return;
    const { receiver, downTrack } = sub;
    const section: SubscriberSection = {
      mid: String(this.sections.length + 1),
      kind: receiver.kind,
      downTrack: {
        ssrc: downTrack.ssrc, rtxSsrc: downTrack.rtx?.ssrc, cname: this.cname,
        streamId: `${receiver.publisherSid}|${receiver.trackSid}`, trackId: receiver.trackSid,
        mimeType: receiver.mimeType, clockRate: receiver.clockRate, channels: receiver.channels, fmtp: receiver.fmtp,
      },
    };
    this.sections.push(section);
    this.sectionOf.set(receiver.trackSid, section);
    this.renegotiate();
  }

  /** A subscription ended: its section stays (mids never move) and goes inactive. */
  removeSection(trackSid: string): void {
    const section = this.sectionOf.get(trackSid);
    if (!section) return;
    this.sectionOf.delete(trackSid);
    section.downTrack = null;
    this.renegotiate();
  }

  /** Relays a data packet to this participant on the channel matching its kind. */
  sendData(reliable: boolean, buf: Uint8Array): void {
    const dc = reliable ? this.reliable : this.lossy;
    if (!dc) return;
    try {
      if (dc.isOpen()) dc.sendMessageBinary(buf);
    } catch (err) {
      this.events.onError('subscriber.sendData', err);
    }
  }

  /** Resolves when every native connection has finished closing (at once if there is none). */
  get whenClosed(): Promise<void> {
    return Promise.all([this.conn.whenClosed, this.handover.whenClosed]).then(() => undefined);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopCandidateTimer();
    this.downstream.setTransport(null);
    this.handover.close(this.conn, [this.reliable, this.lossy]);
    this.reliable = null;
    this.lossy = null;
  }
}
