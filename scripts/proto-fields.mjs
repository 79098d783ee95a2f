// Prints the fields (number, name, type) or enum values of LiveKit protocol messages as the
// installed @livekit/protocol defines them, to check proto/ against LiveKit:
//   node scripts/proto-fields.mjs SignalRequest TrackInfo VideoQuality
import * as P from '@livekit/protocol';
for (const name of process.argv.slice(2)) {
  const T = P[name];
  if (!T) { console.log('// missing', name); continue; }
  if (T.fields) {
    console.log('message', name);
    for (const f of T.fields.list()) {
      let t = f.kind === 'scalar' ? f.T : f.kind === 'enum' ? 'enum:'+f.T.typeName : f.kind==='map' ? `map<${f.K},${f.V.kind==='message'?f.V.T.typeName:f.V.T}>` : f.T.typeName;
      console.log(`  ${f.no} ${f.name} ${t}${f.repeated?' repeated':''}${f.oneof?' oneof:'+f.oneof.name:''}`);
    }
  } else {
    const vals = Object.entries(T).filter(([k,v])=>typeof v==='number').map(([k,v])=>`${k}=${v}`);
    console.log('enum', name, vals.join(' '));
  }
}
