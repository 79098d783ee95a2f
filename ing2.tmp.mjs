import { IngressClient } from 'livekit-server-sdk';
const c = new IngressClient('http://127.0.0.1:7990', 'devkey', 'secret');
for (const i of await c.listIngress({})) console.log(i.ingressId, i.state?.status, i.state?.error, i.state?.tracks?.length, JSON.stringify(i.state?.video), JSON.stringify(i.state?.audio));
