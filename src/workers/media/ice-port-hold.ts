// Keeps a media worker's ICE UDP port bound from start-up to shutdown.
//
// Why: libjuice binds the ICE mux port when the worker's first connection gathers candidates,
// and lets it go when the last connection closes. An idle worker therefore holds nothing, and
// another process (a second Strand started by mistake) can take the port. The next connection
// here then cannot gather, and libdatachannel throws from its own thread: the process aborts,
// which no JavaScript can catch. So each worker checks the port itself and then holds it with
// one connection that has gathered and never connects; a second Strand then fails its own
// check with a clear error. The price is libdatachannel's globals started at init (usrsctp's
// timer thread, about 0.4 % of a core per worker) instead of at the first participant.
import { createSocket } from 'node:dgram';
import { holdUntilClosed, type Native, type PeerConnection, type RtcConfig, type Track } from '../native.js';
import { gatheringComplete } from './peer-util.js';

/** Binds `address:port` exclusively and lets it go: rejects with a message naming the port if it is taken. */
export function checkUdpPortFree(address: string, port: number, owner: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', (err) => {
      socket.close();
      reject(new Error(`ICE UDP port ${address}:${port} (${owner}) is not available: ${err.message}`));
    });
    socket.bind({ port, address, exclusive: true }, () => socket.close(() => resolve()));
  });
}

export class IcePortHold {
  private constructor(private readonly pc: PeerConnection, private readonly track: Track) {}

  /** Checks the port, then binds it through libjuice's mux before anyone else can. */
  static async open(native: Native, config: RtcConfig, address: string, port: number, owner: string): Promise<IcePortHold> {
    await checkUdpPortFree(address, port, owner);
    const pc = new native.PeerConnection(`ice-port-hold-${port}`, config);
    const media = new native.Video('hold', 'SendOnly');
    media.addVP8Codec(96);
    const track = holdUntilClosed(pc.addTrack(media), 'icePortHold.track.onClosed');
    pc.setLocalDescription('offer');
    await gatheringComplete(pc);
    return new IcePortHold(pc, track);
  }

  close(): void {
    this.track.close();
    this.pc.close();
  }
}
