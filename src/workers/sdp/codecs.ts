// The codecs and RTP header extensions Strand negotiates. Deliberately short: no RED, no
// ULPFEC (a relay would forward RED-wrapped video nobody asked for) and no transport-cc
// until Strand sends TWCC feedback (Chromium collapses its bitrate without it).

export const EXT_MID = 'urn:ietf:params:rtp-hdrext:sdes:mid';
export const EXT_RID = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';
export const EXT_REPAIRED_RID = 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id';
export const EXT_AUDIO_LEVEL = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';
export const EXT_ABS_SEND_TIME = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time';

export const AUDIO_EXTENSIONS = [EXT_AUDIO_LEVEL, EXT_ABS_SEND_TIME, EXT_MID];
export const VIDEO_EXTENSIONS = [EXT_ABS_SEND_TIME, EXT_MID, EXT_RID, EXT_REPAIRED_RID];

export const VIDEO_FEEDBACK: Array<{ type: string; subtype?: string }> = [
  { type: 'goog-remb' },
  { type: 'ccm', subtype: 'fir' },
  { type: 'nack' },
  { type: 'nack', subtype: 'pli' },
];

/** A codec as negotiated on one media section. */
export interface NegotiatedCodec {
  mimeType: string;
  payloadType: number;
  clockRate: number;
  channels?: number;
  fmtp?: string;
  /** Payload type of the matching rtx stream, when negotiated. */
  rtxPayloadType?: number;
}

/** Payload types Strand uses on the subscriber side, one per codec. */
export const SUBSCRIBER_PAYLOAD_TYPES: Record<string, { pt: number; rtx?: number }> = {
  'audio/opus': { pt: 111 },
  'video/VP8': { pt: 96, rtx: 97 },
  'video/H264': { pt: 102, rtx: 103 },
};

/** Publisher codecs Strand accepts, in order of preference per kind. */
export const PUBLISH_PREFERENCE: Record<'audio' | 'video', string[]> = {
  audio: ['opus'],
  video: ['VP8', 'H264'],
};
