// Fuzzing Strand's SDP readers and writers with mutated real offers (Chromium's, captured, and
// one in Firefox's format): lines dropped, repeated, swapped and taken from the other browser's
// offer, numbers made odd, text cut short. Whatever comes in, the offer parser, the transport
// view given to libdatachannel, the answer writer and the subscriber view of an answer either
// work or throw SdpError (which the signal session answers as a request error), never anything
// else; and what they write, sdp-transform reads back (checked on every tenth case: parsing is
// most of the cost, about 0.2 ms for a 5 kB offer). 100k cases in all: 70k offers, 30k answers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as sdpTransform from 'sdp-transform';
import { parseOffer, publisherTransportView, writePublisherAnswer } from '../../src/workers/sdp/publisher-sdp.js';
import { subscriberViewAnswer } from '../../src/workers/sdp/subscriber-sdp.js';
import { SdpError, type TransportParams } from '../../src/workers/sdp/transport-params.js';
import { fuzz, mutateText } from '../helpers/fuzz.js';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url)), 'utf8');
const OFFERS = [fixture('chrome-publisher-offer.sdp'), fixture('firefox-publisher-offer.sdp')];

const TRANSPORT: TransportParams = {
  iceUfrag: 'abcd', icePwd: 'pwpwpwpwpwpwpwpwpwpwpw', fingerprint: { type: 'sha-256', hash: 'AA:BB' }, setup: 'active',
  candidates: [{ foundation: '1', component: 1, transport: 'UDP', priority: 2114977791, ip: '127.0.0.1', port: 7882, type: 'host' }],
  sctpPort: 5000, maxMessageSize: 262144,
};

/** A libdatachannel subscriber offer (transport section and data channel), as SubscriberPeer gets one. */
const NATIVE_OFFER = fixture('libdatachannel-subscriber-offer.sdp');
const ANSWERS = OFFERS.map((o) => o.replace(/a=setup:actpass/g, 'a=setup:active'));

/** Runs `fn`; an error other than SdpError fails the case. */
function onlySdpErrors<T>(what: string, input: string, fn: () => T): T | null {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SdpError) return null;
    throw new Error(`${what} threw ${(err as Error).name}: ${(err as Error).message}\n--- input ---\n${input.slice(0, 1500)}`);
  }
}

test('fuzz: publisher offers (Chromium and Firefox) through the parser, the transport view and the answer writer, 70k cases', () => {
  let answered = 0;
  const cases = fuzz('publisher-sdp', 1701, 70_000, (rng, i) => {
    const check = i % 10 === 0;
    const text = mutateText(rng, rng.pick(OFFERS), OFFERS);
    const offer = onlySdpErrors('parseOffer', text, () => parseOffer(text));
    if (!offer) return;
    const view = onlySdpErrors('publisherTransportView', text, () => publisherTransportView(offer));
    if (view !== null && check) sdpTransform.parse(view);
    const answer = onlySdpErrors('writePublisherAnswer', text, () => writePublisherAnswer(offer, TRANSPORT, { id: 1, version: 2 }));
    if (answer !== null) {
      answered++;
      if (check) assert.ok(sdpTransform.parse(answer).media.length === offer.sdp.media.length, 'one answer section per offered section');
    }
  });
  assert.ok(answered > cases / 10, `${answered} of ${cases} mutated offers were answered: the mutations are not all fatal`);
});

test('fuzz: client answers through the subscriber view, 30k cases', () => {
  fuzz('subscriber-sdp', 1702, 30_000, (rng, i) => {
    const text = mutateText(rng, rng.pick(ANSWERS), ANSWERS);
    const view = onlySdpErrors('subscriberViewAnswer', text, () => subscriberViewAnswer(NATIVE_OFFER, text));
    if (view !== null && i % 10 === 0) sdpTransform.parse(view);
  });
});
