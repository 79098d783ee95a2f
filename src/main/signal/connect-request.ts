// What a client asks for when it opens a signal connection: on v0 (/rtc) URL parameters, on
// v1 (/rtc/v1) a JoinRequest in the `join_request` parameter (base64url of a
// WrappedJoinRequest, gzipped or not), which may carry the client's first offer.
import { gunzipSync } from 'node:zlib';
import { livekit } from '../../proto/index.js';
import type { JoinParams } from '../rooms/room-manager.js';

/** LiveKit caps the decompressed JoinRequest at 1 MiB. */
export const MAX_JOIN_REQUEST_BYTES = 1024 * 1024;

export interface ConnectRequest {
  params: JoinParams;
  /** Resume an earlier session (reconnect=1 / JoinRequest.reconnect). */
  reconnect: boolean;
  /** The session to resume ('' when the client did not say). */
  participantSid: string;
  /** v1: the publisher offer sent with the join. */
  offer?: livekit.ISessionDescription;
}

export class ConnectRequestError extends Error {}

function flag(v: string | null, dflt: boolean): boolean {
  return v === null ? dflt : v === '1' || v === 'true';
}

/** v0: `/rtc?access_token=…&auto_subscribe=1&protocol=17[&reconnect=1&sid=PA_…]`. */
export function v0ConnectRequest(query: URLSearchParams): ConnectRequest {
  return {
    params: {
      autoSubscribe: flag(query.get('auto_subscribe'), true),
      clientProtocol: Number(query.get('protocol') ?? 0) || 0,
      singlePeerConnection: false,
    },
    reconnect: flag(query.get('reconnect'), false),
    participantSid: query.get('sid') ?? '',
  };
}

/** v1: `/rtc/v1?access_token=…&join_request=<base64url WrappedJoinRequest>`. */
export function v1ConnectRequest(query: URLSearchParams): ConnectRequest {
  const encoded = query.get('join_request');
  if (!encoded) throw new ConnectRequestError('join_request is required on /rtc/v1');
  const join = decodeJoinRequest(encoded);
  const settings = join.connectionSettings;
  return {
    params: {
      autoSubscribe: settings ? settings.autoSubscribe === true : true,
      clientProtocol: join.clientInfo?.protocol ?? 0,
      singlePeerConnection: true,
    },
    reconnect: join.reconnect,
    participantSid: join.participantSid,
    offer: join.publisherOffer?.sdp ? join.publisherOffer : undefined,
  };
}

export function decodeJoinRequest(encoded: string): livekit.JoinRequest {
  // base64url, padded or not; Buffer's decoder takes both alphabets and stops at bad input,
  // so check what came back instead of trusting it.
  if (!/^[A-Za-z0-9_+/-]*={0,2}$/.test(encoded)) throw new ConnectRequestError('join_request is not base64url');
  const raw = Buffer.from(encoded, 'base64url');
  let wrapped: livekit.WrappedJoinRequest;
  try {
    wrapped = livekit.WrappedJoinRequest.decode(raw);
  } catch (err) {
    throw new ConnectRequestError(`join_request is not a WrappedJoinRequest: ${(err as Error).message}`);
  }
  let body: Uint8Array = wrapped.joinRequest;
  if (wrapped.compression === livekit.WrappedJoinRequest.Compression.GZIP) {
    try {
      body = gunzipSync(body, { maxOutputLength: MAX_JOIN_REQUEST_BYTES });
    } catch (err) {
      throw new ConnectRequestError(`join_request does not decompress: ${(err as Error).message}`);
    }
  } else if (wrapped.compression !== livekit.WrappedJoinRequest.Compression.NONE) {
    throw new ConnectRequestError(`join_request has unknown compression ${wrapped.compression}`);
  }
  if (body.length > MAX_JOIN_REQUEST_BYTES) throw new ConnectRequestError('join_request is too large');
  try {
    return livekit.JoinRequest.decode(body);
  } catch (err) {
    throw new ConnectRequestError(`join_request is not a JoinRequest: ${(err as Error).message}`);
  }
}
