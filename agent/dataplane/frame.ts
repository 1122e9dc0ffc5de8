/**
 * The header of a packet travelling between agents. It carries the namespace
 * (a hash of its name, the same on every agent), the link direction the packet
 * has just crossed, its destination node and its position on an explicit route,
 * all as indices local to the namespace, which every agent numbers the same way
 * from the controller's state. The next agent continues the packet's route from
 * there without classifying it again. Little-endian, 24 bytes:
 *
 *   0 u16 magic "NM"   2 u8 version   3 u8 kind (0 packet, 1 hello)
 *   4 u32 payload length               8 u32 namespace id
 *  12 u32 direction   16 u32 destination node   20 i32 route position (-1: none)
 */

export const FRAME_HEADER = 24;
export const FRAME_MAGIC = 0x4d4e;
export const FRAME_VERSION = 1;
export const KIND_PACKET = 0;
export const KIND_HELLO = 1;
/** larger payloads are refused: a slot holds at most this much */
export const MAX_PAYLOAD = 65600;

export function writeHeader(dv: DataView, off: number, kind: number, len: number, ns: number, dir: number, dst: number, route: number): void {
  dv.setUint16(off, FRAME_MAGIC, true);
  dv.setUint8(off + 2, FRAME_VERSION);
  dv.setUint8(off + 3, kind);
  dv.setUint32(off + 4, len, true);
  dv.setUint32(off + 8, ns, true);
  dv.setUint32(off + 12, dir, true);
  dv.setUint32(off + 16, dst, true);
  dv.setInt32(off + 20, route, true);
}

/** FNV-1a of a namespace's name: every agent derives the same id with no coordination. Never 0: that id carries probes (latency.ts). */
export function namespaceId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0 || 1;
}

/** Receives packets that arrive from other agents. */
export interface FrameSink {
  fromPeer(now: number, slot: number, ns: number, dir: number, dst: number, route: number): void;
}
