// The end of a test file whose bots ran on node-datachannel in the test process: libdatachannel's
// threads keep the process alive until its cleanup(), so the file would never finish.
import nodeDataChannel from 'node-datachannel';

export async function releaseNodeDataChannel(): Promise<void> {
  // The bots' connections finish closing first: libdatachannel's cleanup under connections
  // still closing can time out ("cleanup timeout (possible deadlock)").
  await new Promise((r) => setTimeout(r, 1000));
  try {
    nodeDataChannel.cleanup();
  } catch (err) {
    // A timed-out cleanup leaves libdatachannel's threads waiting, and this test process would
    // never exit (CI would hang): the tests are over, so the process ends.
    console.error(`node-datachannel cleanup: ${(err as Error).message}; exiting`);
    setTimeout(() => process.exit(0), 200);
  }
}
