// Keys of the node link. Each sender's key is derived from the API secret the cluster already
// shares and the sender's link id (HKDF-SHA256), so no key exchange is needed, a datagram from
// outside the cluster fails its tag, and no two senders ever share a key. Encrypted links use
// AES-256-GCM with the header as associated data and a nonce made of epoch and sequence (unique
// under the sender's key); authenticated-only links (a trusted network, as mediasoup's pipes by
// default) use HMAC-SHA256 truncated to the tag's 16 bytes.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { LINK_HEADER, LINK_TAG } from './link-datagram.js';

export function deriveLinkKey(apiSecret: string, sender: number): Buffer {
  return Buffer.from(hkdfSync('sha256', apiSecret, 'strand node link v1', `sender ${sender >>> 0}`, 32));
}

export class LinkCipher {
  private readonly nonce = Buffer.alloc(12);

  constructor(private readonly key: Buffer, readonly encrypt: boolean) {}

  /**
   * Seals the datagram in `buf` (header and `bodyLen` bytes of records) in place and appends
   * the tag; returns the datagram's length.
   */
  seal(buf: Buffer, bodyLen: number): number {
    const end = LINK_HEADER + bodyLen;
    if (!this.encrypt) {
      const mac = createHmac('sha256', this.key).update(buf.subarray(0, end)).digest();
      mac.copy(buf, end, 0, LINK_TAG);
      return end + LINK_TAG;
    }
    this.nonceOf(buf);
    const c = createCipheriv('aes-256-gcm', this.key, this.nonce);
    c.setAAD(buf.subarray(0, LINK_HEADER));
    const body = buf.subarray(LINK_HEADER, end);
    const out = c.update(body);
    out.copy(buf, LINK_HEADER);
    c.final();
    c.getAuthTag().copy(buf, end);
    return end + LINK_TAG;
  }

  /** Verifies (and decrypts in place) a datagram; its body length, or -1 when it is not authentic. */
  open(buf: Buffer, len: number, encrypted: boolean): number {
    if (encrypted !== this.encrypt) return -1;
    const end = len - LINK_TAG;
    if (end < LINK_HEADER) return -1;
    const tag = buf.subarray(end, len);
    if (!encrypted) {
      const mac = createHmac('sha256', this.key).update(buf.subarray(0, end)).digest();
      return timingSafeEqual(mac.subarray(0, LINK_TAG), tag) ? end - LINK_HEADER : -1;
    }
    this.nonceOf(buf);
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, this.nonce);
      d.setAAD(buf.subarray(0, LINK_HEADER));
      d.setAuthTag(tag);
      const plain = d.update(buf.subarray(LINK_HEADER, end));
      d.final();
      plain.copy(buf, LINK_HEADER);
      return end - LINK_HEADER;
    } catch {
      return -1;
    }
  }

  /** epoch (4) ‖ sequence (8): unique under the sender's key, so never reused. */
  private nonceOf(buf: Buffer): void {
    buf.copy(this.nonce, 0, 8, 20);
  }
}
