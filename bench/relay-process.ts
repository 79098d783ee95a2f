// The relay baseline in a process of its own, as Strand and Janus are. The system benchmark asks
// it for one run and reads the result; the bench process itself then never loads libdatachannel,
// whose teardown at exit has ended sweeps with SIGSEGV after their results were written.
import nodeDataChannel from 'node-datachannel';
import { runForwarding, type ForwardingResult } from './forwarding.js';

export interface RelayRunRequest {
  fanout: number;
  packets: number;
  rate: number;
  mode: 'relay' | 'fair-relay';
}

export type RelayRunReply = { result: ForwardingResult } | { error: string };

process.once('message', (req: RelayRunRequest) => {
  void (async () => {
    let reply: RelayRunReply;
    try {
      const [result] = await runForwarding(req.fanout, req.packets, req.rate, [req.mode]);
      reply = result ? { result } : { error: 'no result' };
    } catch (err) {
      reply = { error: String((err as Error)?.message ?? err) };
    }
    process.send!(reply, () => {
      nodeDataChannel.cleanup();
      process.exit(0);
    });
  })();
});
