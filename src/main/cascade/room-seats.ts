// Where the participants of a room are served, in Redis, so that any node placing a join sees
// the same picture and the picture outlives any one node:
//
//   room_node_map        room → home node (LiveKit's key; the home owns the room's lifecycle)
//   room_nodes:<room>    node → when it joined the room's node set (the home is always in it)
//   room_seats:<room>    identity → "<node>|<1 if it subscribes>|<ms>": the node serving it
//   cascade_links        node → "<host> <udp port> <tcp port> <link id>": how to reach its links
//
// A seat is taken by one Lua script that reads the counts and writes the choice in one step,
// so joins racing through different nodes cannot overfill a node. A participant who comes
// back (a resume, a rejoin) keeps its seat while that node is available.
import type { RedisConnection } from '../cluster/redis-client.js';

export const LINKS_KEY = 'cascade_links';
export const roomNodesKey = (room: string): string => `room_nodes:${room}`;
export const roomSeatsKey = (room: string): string => `room_seats:${room}`;

/**
 * KEYS[1] seats; ARGV: identity, max subscribers per node (0: none), 1 if it subscribes, now ms,
 * then the candidate nodes, best first (the home first). Returns the node picked.
 */
const TAKE_SEAT = `
local n = #ARGV
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local node = string.match(cur, '^([^|]+)')
  for i = 5, n do
    if ARGV[i] == node then
      redis.call('HSET', KEYS[1], ARGV[1], node .. '|' .. ARGV[3] .. '|' .. ARGV[4])
      return node
    end
  end
end
local max = tonumber(ARGV[2])
local pick = ARGV[5]
if ARGV[3] == '1' and max > 0 then
  local counts = {}
  for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
    local node, sub = string.match(v, '^([^|]+)|(%d)')
    if node and sub == '1' then counts[node] = (counts[node] or 0) + 1 end
  end
  pick = nil
  for i = 5, n do
    if (counts[ARGV[i]] or 0) < max then pick = ARGV[i]; break end
  end
  if not pick then
    -- Every candidate is full: the least loaded takes one more.
    pick = ARGV[5]
    for i = 6, n do
      if (counts[ARGV[i]] or 0) < (counts[pick] or 0) then pick = ARGV[i] end
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], pick .. '|' .. ARGV[3] .. '|' .. ARGV[4])
return pick`;

/** KEYS[1] seats; ARGV: identity, node. Frees the seat if that node still holds it. */
const FREE_SEAT = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and string.match(cur, '^([^|]+)') == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) return 1 end
return 0`;

/** KEYS[1] seats; ARGV: the available nodes. Frees the seats of every other node. */
const FREE_SEATS_OF_GONE = `
local alive = {}
for i = 1, #ARGV do alive[ARGV[i]] = true end
local freed = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local node = string.match(all[i + 1], '^([^|]+)')
  if not alive[node] then redis.call('HDEL', KEYS[1], all[i]); freed = freed + 1 end
end
return freed`;

export interface LinkAddress {
  host: string;
  udpPort: number;
  tcpPort: number;
  linkId: number;
}

export class RoomSeats {
  constructor(private readonly redis: RedisConnection) {}

  /** The node to serve `identity`, from `candidates` (best first), taken in one atomic step. */
  async take(room: string, identity: string, subscriber: boolean, maxPerNode: number, candidates: string[]): Promise<string> {
    const picked = await this.redis.eval(TAKE_SEAT, 1, roomSeatsKey(room), identity, maxPerNode, subscriber ? 1 : 0, Date.now(), ...candidates);
    return String(picked);
  }

  /** The node holding `identity`'s seat, or null. */
  async seatOf(room: string, identity: string): Promise<string | null> {
    const v = await this.redis.hget(roomSeatsKey(room), identity);
    return v ? v.split('|')[0]! : null;
  }

  async free(room: string, identity: string, node: string): Promise<void> {
    await this.redis.eval(FREE_SEAT, 1, roomSeatsKey(room), identity, node);
  }

  /** Seats of nodes that are gone are free again (their participants rejoin elsewhere). */
  async freeGone(room: string, available: string[]): Promise<void> {
    await this.redis.eval(FREE_SEATS_OF_GONE, 1, roomSeatsKey(room), ...available);
  }

  /** The nodes of the room's node set, in the order they joined it. */
  async members(room: string): Promise<string[]> {
    const all = await this.redis.hgetall(roomNodesKey(room));
    return Object.entries(all).sort((a, b) => Number(a[1]) - Number(b[1])).map(([node]) => node);
  }

  async addMember(room: string, node: string): Promise<void> {
    await this.redis.hsetnx(roomNodesKey(room), node, String(Date.now()));
  }

  async removeMember(room: string, node: string): Promise<void> {
    await this.redis.hdel(roomNodesKey(room), node);
  }

  /** The room is over: its node set and seats go. */
  async clear(room: string): Promise<void> {
    await this.redis.del(roomNodesKey(room), roomSeatsKey(room));
  }

  async advertise(node: string, a: LinkAddress): Promise<void> {
    await this.redis.hset(LINKS_KEY, node, `${a.host} ${a.udpPort} ${a.tcpPort} ${a.linkId}`);
  }

  async withdraw(node: string): Promise<void> {
    await this.redis.hdel(LINKS_KEY, node);
  }

  async addresses(): Promise<Map<string, LinkAddress>> {
    const all = await this.redis.hgetall(LINKS_KEY);
    const out = new Map<string, LinkAddress>();
    for (const [node, v] of Object.entries(all)) {
      const [host, udp, tcp, id] = v.split(' ');
      const a = { host: host ?? '', udpPort: Number(udp), tcpPort: Number(tcp), linkId: Number(id) };
      if (a.host && a.udpPort > 0 && a.tcpPort > 0 && Number.isInteger(a.linkId)) out.set(node, a);
    }
    return out;
  }
}
