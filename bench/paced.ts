// The pacing loop the forwarding benchmarks share: `count` sends at about `rate` per second, in
// bursts, sleeping until each burst is due (yielding at once when behind).

/** Calls `send(i)` for i = 0 … count − 1 at about `rate` per second; resolves with the seconds it took. */
export async function paced(count: number, rate: number, burst: number, send: (i: number) => void): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i += burst) {
    for (let j = i; j < Math.min(count, i + burst); j++) send(j);
    const due = Number(process.hrtime.bigint() - started) / 1e9;
    const target = (i + burst) / rate;
    if (target > due) await new Promise((r) => setTimeout(r, (target - due) * 1000));
    else await new Promise((r) => setImmediate(r));
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}
