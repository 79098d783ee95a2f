// `strand room|participant|egress …`: the server API from the command line, as `lk` offers it,
// against any LiveKit-compatible server (--url --api-key --api-secret, or LIVEKIT_URL,
// LIVEKIT_API_KEY, LIVEKIT_API_SECRET; --dev: a local `strand --dev`).
import { parseArgs } from 'node:util';
import { livekit } from '../../proto/index.js';
import { ConfigError } from '../config-error.js';
import { parseKeys } from '../config.js';
import { ApiClient } from './api-client.js';

export const ADMIN_USAGE = `usage: strand room list [--names a,b]
       strand room create <name> [--empty-timeout s] [--departure-timeout s] [--max-participants n] [--metadata m]
       strand room delete <name>
       strand room update-metadata <name> <metadata>
       strand participant list <room>
       strand participant get|remove <room> <identity>
       strand participant mute <room> <identity> <track sid> [--unmute]
       strand participant update <room> <identity> [--name n] [--metadata m] [--attribute key=value]…
       strand egress start <room> --file <path> [--layout grid|speaker] [--audio-only]
       strand egress list [--room R] [--active]
       strand egress stop <egress id>
       strand drain [--wait] the server stops taking rooms, drains (shutdown.drain) and stops; --wait: until it has

  every command: [--url ws://host:7880 --api-key K --api-secret S | --dev] [--json]
                 (also LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET)`;

const COMMON = {
  url: { type: 'string' }, 'api-key': { type: 'string' }, 'api-secret': { type: 'string' }, dev: { type: 'boolean' }, json: { type: 'boolean' },
} as const;

type Print = (line: string) => void;

function client(values: { url?: string; 'api-key'?: string; 'api-secret'?: string; dev?: boolean }, env: NodeJS.ProcessEnv): ApiClient {
  const url = values.url ?? env.LIVEKIT_URL ?? (values.dev ? 'http://127.0.0.1:7880' : undefined);
  // A server's own keys (LIVEKIT_KEYS, "key: secret") sign too: a sidecar or preStop hook has them.
  const [serverKey, serverSecret] = env.LIVEKIT_KEYS ? Object.entries(parseKeys(env.LIVEKIT_KEYS))[0] ?? [] : [];
  const key = values['api-key'] ?? env.LIVEKIT_API_KEY ?? serverKey ?? (values.dev ? 'devkey' : undefined);
  const secret = values['api-secret'] ?? env.LIVEKIT_API_SECRET ?? serverSecret ?? (values.dev ? 'secret' : undefined);
  if (!url) throw new ConfigError('no server: give --url (or LIVEKIT_URL), or --dev for a local strand --dev');
  if (!key || !secret) throw new ConfigError('no API key: give --api-key and --api-secret (or LIVEKIT_API_KEY, LIVEKIT_API_SECRET), or --dev');
  return new ApiClient(url, key, secret);
}

function need(positionals: string[], count: number, what: string): string[] {
  if (positionals.length < count) throw new ConfigError(`missing ${what}\n\n${ADMIN_USAGE}`);
  return positionals;
}

function table(print: Print, json: boolean | undefined, rows: Array<Record<string, string | number | boolean>>, raw: unknown): void {
  if (json) {
    print(JSON.stringify(raw, null, 2));
    return;
  }
  if (rows.length === 0) {
    print('(none)');
    return;
  }
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => cells.map((s, i) => s.padEnd(width[i]!)).join('  ').trimEnd();
  print(line(cols));
  for (const r of rows) print(line(cols.map((c) => String(r[c]))));
}

const asObject = <T>(type: { toObject(m: T, o: object): object }, m: T) => type.toObject(m, { longs: Number, enums: String, defaults: false });

function roomRows(rooms: livekit.IRoom[]) {
  return rooms.map((r) => ({
    name: r.name ?? '', sid: r.sid ?? '', participants: r.numParticipants ?? 0, publishers: r.numPublishers ?? 0,
    created: new Date(Number(r.creationTime ?? 0) * 1000).toISOString(), metadata: r.metadata ?? '',
  }));
}

function participantRows(ps: livekit.IParticipantInfo[]) {
  return ps.map((p) => ({
    identity: p.identity ?? '', sid: p.sid ?? '', state: livekit.ParticipantInfo.State[p.state ?? 0] ?? '',
    tracks: (p.tracks ?? []).map((t) => `${t.sid}:${livekit.TrackType[t.type ?? 0]?.toLowerCase()}${t.muted ? '(muted)' : ''}`).join(' '),
    metadata: p.metadata ?? '',
  }));
}

function egressRows(items: livekit.IEgressInfo[]) {
  return items.map((e) => ({
    egress: e.egressId ?? '', room: e.roomName ?? '', status: livekit.EgressStatus[e.status ?? 0] ?? '', error: e.error ?? '',
  }));
}

/** Runs `strand <room|participant|egress> …`; prints with `print`. */
export async function adminCommand(argv: string[], env: NodeJS.ProcessEnv, print: Print): Promise<void> {
  if (argv[0] === 'drain') {
    const { values } = parseArgs({ args: argv.slice(1), strict: true, options: { ...COMMON, wait: { type: 'boolean' } } });
    const c = client(values, env);
    await c.drain();
    print('draining');
    if (values.wait) {
      // Until the server stops answering (its drain is over and it exited).
      while (await c.answers()) await new Promise((r) => setTimeout(r, 500));
      print('stopped');
    }
    return;
  }
  const [group, sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || rest.includes('--help')) {
    print(ADMIN_USAGE);
    return;
  }
  const key = `${group} ${sub}`;
  switch (key) {
    case 'room list': {
      const { values } = parseArgs({ args: rest, options: { ...COMMON, names: { type: 'string' } }, strict: true });
      const res = await client(values, env).call('RoomService', 'ListRooms', { roomList: true }, livekit.ListRoomsRequest,
        { names: values.names ? values.names.split(',') : [] }, livekit.ListRoomsResponse);
      table(print, values.json, roomRows(res.rooms ?? []), asObject(livekit.ListRoomsResponse, res));
      return;
    }
    case 'room create': {
      const { values, positionals } = parseArgs({
        args: rest, allowPositionals: true, strict: true,
        options: { ...COMMON, 'empty-timeout': { type: 'string' }, 'departure-timeout': { type: 'string' }, 'max-participants': { type: 'string' }, metadata: { type: 'string' } },
      });
      const [name] = need(positionals, 1, 'the room name');
      const room = await client(values, env).call('RoomService', 'CreateRoom', { roomCreate: true }, livekit.CreateRoomRequest, {
        name, emptyTimeout: Number(values['empty-timeout'] ?? 0), departureTimeout: Number(values['departure-timeout'] ?? 0),
        maxParticipants: Number(values['max-participants'] ?? 0), metadata: values.metadata ?? '',
      }, livekit.Room);
      table(print, values.json, roomRows([room]), asObject(livekit.Room, room));
      return;
    }
    case 'room delete': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: COMMON });
      const [room] = need(positionals, 1, 'the room name');
      await client(values, env).call('RoomService', 'DeleteRoom', { roomCreate: true }, livekit.DeleteRoomRequest, { room }, livekit.DeleteRoomResponse);
      print(`deleted room ${room}`);
      return;
    }
    case 'room update-metadata': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: COMMON });
      const [room, metadata] = need(positionals, 2, 'the room name and its metadata');
      const r = await client(values, env).call('RoomService', 'UpdateRoomMetadata', { roomAdmin: true, room }, livekit.UpdateRoomMetadataRequest,
        { room, metadata }, livekit.Room);
      table(print, values.json, roomRows([r]), asObject(livekit.Room, r));
      return;
    }
    case 'participant list': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: COMMON });
      const [room] = need(positionals, 1, 'the room name');
      const res = await client(values, env).call('RoomService', 'ListParticipants', { roomAdmin: true, room }, livekit.ListParticipantsRequest,
        { room }, livekit.ListParticipantsResponse);
      table(print, values.json, participantRows(res.participants ?? []), asObject(livekit.ListParticipantsResponse, res));
      return;
    }
    case 'participant get':
    case 'participant remove': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: COMMON });
      const [room, identity] = need(positionals, 2, 'the room and the identity');
      const c = client(values, env);
      if (sub === 'get') {
        const p = await c.call('RoomService', 'GetParticipant', { roomAdmin: true, room }, livekit.RoomParticipantIdentity, { room, identity }, livekit.ParticipantInfo);
        table(print, values.json, participantRows([p]), asObject(livekit.ParticipantInfo, p));
      } else {
        await c.call('RoomService', 'RemoveParticipant', { roomAdmin: true, room }, livekit.RoomParticipantIdentity, { room, identity }, livekit.RemoveParticipantResponse);
        print(`removed ${identity} from ${room}`);
      }
      return;
    }
    case 'participant mute': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { ...COMMON, unmute: { type: 'boolean' } } });
      const [room, identity, trackSid] = need(positionals, 3, 'the room, the identity and the track sid');
      const res = await client(values, env).call('RoomService', 'MutePublishedTrack', { roomAdmin: true, room }, livekit.MuteRoomTrackRequest,
        { room, identity, trackSid, muted: !values.unmute }, livekit.MuteRoomTrackResponse);
      print(values.json ? JSON.stringify(asObject(livekit.MuteRoomTrackResponse, res), null, 2) : `${trackSid} ${res.track?.muted ? 'muted' : 'unmuted'}`);
      return;
    }
    case 'participant update': {
      const { values, positionals } = parseArgs({
        args: rest, allowPositionals: true, strict: true,
        options: { ...COMMON, name: { type: 'string' }, metadata: { type: 'string' }, attribute: { type: 'string', multiple: true } },
      });
      const [room, identity] = need(positionals, 2, 'the room and the identity');
      const attributes: Record<string, string> = {};
      for (const a of values.attribute ?? []) {
        const i = a.indexOf('=');
        if (i <= 0) throw new ConfigError(`--attribute ${a}: use key=value (an empty value deletes the key)`);
        attributes[a.slice(0, i)] = a.slice(i + 1);
      }
      const p = await client(values, env).call('RoomService', 'UpdateParticipant', { roomAdmin: true, room }, livekit.UpdateParticipantRequest,
        { room, identity, name: values.name ?? '', metadata: values.metadata ?? '', attributes }, livekit.ParticipantInfo);
      table(print, values.json, participantRows([p]), asObject(livekit.ParticipantInfo, p));
      return;
    }
    case 'egress start': {
      const { values, positionals } = parseArgs({
        args: rest, allowPositionals: true, strict: true,
        options: { ...COMMON, file: { type: 'string' }, layout: { type: 'string' }, 'audio-only': { type: 'boolean' } },
      });
      const [roomName] = need(positionals, 1, 'the room name');
      if (!values.file) throw new ConfigError('--file <path> is required (a room composite recorded to a file)');
      const info = await client(values, env).call('Egress', 'StartRoomCompositeEgress', { roomRecord: true }, livekit.RoomCompositeEgressRequest, {
        roomName, layout: values.layout ?? '', audioOnly: values['audio-only'] ?? false, fileOutputs: [{ filepath: values.file }],
      }, livekit.EgressInfo);
      table(print, values.json, egressRows([info]), asObject(livekit.EgressInfo, info));
      return;
    }
    case 'egress list': {
      const { values } = parseArgs({ args: rest, strict: true, options: { ...COMMON, room: { type: 'string' }, active: { type: 'boolean' } } });
      const res = await client(values, env).call('Egress', 'ListEgress', { roomRecord: true }, livekit.ListEgressRequest,
        { roomName: values.room ?? '', active: values.active ?? false }, livekit.ListEgressResponse);
      table(print, values.json, egressRows(res.items ?? []), asObject(livekit.ListEgressResponse, res));
      return;
    }
    case 'egress stop': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: COMMON });
      const [egressId] = need(positionals, 1, 'the egress id');
      const info = await client(values, env).call('Egress', 'StopEgress', { roomRecord: true }, livekit.StopEgressRequest, { egressId }, livekit.EgressInfo);
      table(print, values.json, egressRows([info]), asObject(livekit.EgressInfo, info));
      return;
    }
    default:
      throw new ConfigError(`unknown command "strand ${key}"\n\n${ADMIN_USAGE}`);
  }
}
