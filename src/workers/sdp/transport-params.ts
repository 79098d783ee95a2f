// ICE/DTLS/SCTP parameters of one side of a bundled connection, read from an SDP.
import type { MediaDescription, SessionDescription } from 'sdp-transform';

export interface TransportParams {
  iceUfrag: string;
  icePwd: string;
  fingerprint: { type: string; hash: string };
  setup: string;
  /** `a=candidate` values (without the `a=` prefix and `candidate:`), as sdp-transform gives them. */
  candidates: NonNullable<MediaDescription['candidates']>;
  sctpPort?: number;
  maxMessageSize?: number;
}

export class SdpError extends Error {}

/** Strand's side of an SDP session: a random id, and a version bumped on every description. */
export interface SdpSession {
  id: number;
  version: number;
}

export function newSdpSession(): SdpSession {
  return { id: Math.floor(Math.random() * 2 ** 31), version: 1 };
}

export function originOf(s: SdpSession): NonNullable<SessionDescription['origin']> {
  return { username: '-', sessionId: s.id, sessionVersion: s.version, netType: 'IN', ipVer: 4, address: '0.0.0.0' };
}

/** Reads transport parameters, preferring media-level values over session-level ones. */
export function readTransportParams(sdp: SessionDescription): TransportParams {
  const media = sdp.media.find((m) => m.port !== 0) ?? sdp.media[0];
  const iceUfrag = media?.iceUfrag ?? sdp.iceUfrag;
  const icePwd = media?.icePwd ?? sdp.icePwd;
  const fingerprint = media?.fingerprint ?? sdp.fingerprint;
  const setup = media?.setup ?? (sdp as { setup?: string }).setup ?? 'actpass';
  if (!iceUfrag || !icePwd) throw new SdpError('SDP has no ice-ufrag/ice-pwd');
  if (!fingerprint) throw new SdpError('SDP has no DTLS fingerprint');
  const app = sdp.media.find((m) => m.type === 'application');
  const candidates = sdp.media.flatMap((m) => m.candidates ?? []);
  return {
    iceUfrag,
    icePwd,
    fingerprint: { type: fingerprint.type, hash: fingerprint.hash },
    setup,
    candidates,
    sctpPort: app?.sctpPort,
    maxMessageSize: app?.maxMessageSize,
  };
}

/**
 * Writes the transport attributes onto a media section, with the candidates when asked.
 * `complete` adds end-of-candidates: right for Strand's own descriptions (libdatachannel has
 * finished gathering), wrong for the views of a client's description given to libdatachannel,
 * whose candidates keep trickling in: told the list is complete, libjuice fails ICE as soon as
 * the candidates it has fail, before the client's loopback candidate arrives.
 */
export function applyTransportParams(m: MediaDescription, t: TransportParams, withCandidates: boolean, complete = true): void {
  m.iceUfrag = t.iceUfrag;
  m.icePwd = t.icePwd;
  m.fingerprint = { type: t.fingerprint.type, hash: t.fingerprint.hash };
  m.setup = t.setup;
  if (withCandidates && t.candidates.length > 0) {
    m.candidates = t.candidates.map((c) => ({ ...c }));
    if (complete) m.endOfCandidates = 'end-of-candidates';
  }
}
