/**
 * Creating TUN devices. A node's TUN is opened with IFF_VNET_HDR and TSO/checksum
 * offload so one read carries up to 64 KB of TCP segments (with a virtio header
 * giving the segment size) while the node keeps a normal MTU: large reads are how
 * a JavaScript dataplane reaches many Gbit/s without making packets unrealistic.
 */
import { check, ioctlPtr, ioctlValue, openPath, O_CLOEXEC, O_NONBLOCK, O_RDWR, closeFd } from "./libc.ts";

const TUNSETIFF = 0x400454ca;
const TUNSETOFFLOAD = 0x400454d0;
const TUNSETVNETHDRSZ = 0x400454d8;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;
const TUN_F_CSUM = 0x01;
const TUN_F_TSO4 = 0x02;
const TUN_F_TSO6 = 0x04;
const TUN_F_TSO_ECN = 0x08;

export const VNET_HDR_LEN = 10;
export const IFNAMSIZ = 16;
/** longest interface name the kernel accepts */
export const MAX_IFNAME_LEN = IFNAMSIZ - 1;

export interface TunDevice {
  fd: number;
  name: string;
  /** packets carry a 10-byte virtio_net_hdr and may be 64 KB TSO super-packets */
  vnet: boolean;
}

export interface TunOptions {
  /** offload (vnet header + TSO); off gives plain IP packets of at most the MTU */
  offload: boolean;
}

/** Opens /dev/net/tun and creates interface `name` in the calling process's network namespace. */
export function createTun(name: string, opts: TunOptions): TunDevice {
  if (name.length >= IFNAMSIZ) throw new Error(`TUN name "${name}" is longer than ${IFNAMSIZ - 1} characters`);
  const fd = openPath("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  try {
    const ifr = new Uint8Array(40);
    ifr.set(new TextEncoder().encode(name), 0);
    const flags = IFF_TUN | IFF_NO_PI | (opts.offload ? IFF_VNET_HDR : 0);
    new DataView(ifr.buffer).setUint16(IFNAMSIZ, flags, true);
    check(ioctlPtr(fd, TUNSETIFF, ifr), `TUNSETIFF ${name}`);
    if (opts.offload) {
      const size = new Uint8Array(4);
      new DataView(size.buffer).setInt32(0, VNET_HDR_LEN, true);
      check(ioctlPtr(fd, TUNSETVNETHDRSZ, size), `TUNSETVNETHDRSZ ${name}`);
      check(ioctlValue(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN), `TUNSETOFFLOAD ${name}`);
    }
    return { fd, name, vnet: opts.offload };
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

export function closeTun(dev: TunDevice): void {
  closeFd(dev.fd);
}
