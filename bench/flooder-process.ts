// A flooding participant in a process of its own, so that its busy loop does not slow the
// measuring bots' event loop: `node flooder-process.js <ws url> <data token> <signal token> <seconds>`.
// Floods 1 kB lossy data packets through @livekit/rtc-node and pings through a raw signal
// socket, then prints {"dataSent":…,"signalSent":…} and exits.
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Room } from '@livekit/rtc-node';
import { RawSignalClient } from '../test/helpers/signal-client.js';

const [url, dataToken, signalToken, secondsText] = process.argv.slice(2);
// rtc-node's publishData listens on the room's abort signal while a send is in flight: 20 in
// flight (below) would print Node's MaxListenersExceededWarning. Set before the room makes it.
setMaxListeners(32);
const room = new Room();
await room.connect(url!, dataToken!, { autoSubscribe: false, dynacast: false });
const signal = await RawSignalClient.connect(url!, signalToken!);
process.stdout.write('ready\n');
// Wait for the go line on stdin.
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
const end = performance.now() + Number(secondsText) * 1000;
const payload = new Uint8Array(1000).fill(7);
let dataSent = 0;
let signalSent = 0;
await Promise.all([
  (async () => {
    // Twenty at a time: awaiting each send one by one stays under about 1,100 packets/s here.
    while (performance.now() < end) {
      const batch: Array<Promise<void>> = [];
      for (let i = 0; i < 20; i++) batch.push(room.localParticipant!.publishData(payload, { reliable: false }));
      await Promise.all(batch);
      dataSent += batch.length;
    }
  })(),
  (async () => {
    while (performance.now() < end) {
      for (let i = 0; i < 100; i++) signal.send({ pingReq: { timestamp: Date.now(), rtt: 0 } });
      signalSent += 100;
      await sleep(5);
    }
  })(),
]);
process.stdout.write(`${JSON.stringify({ dataSent, signalSent })}\n`);
process.exit(0);
