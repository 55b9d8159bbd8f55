import { Transform, type TransformCallback } from 'node:stream';

/**
 * The last guard before a message leaves for a downstream server: a CR that
 * is not followed by LF becomes LF. The stored message has LF line ends
 * (smtp/collect.ts) and the client library turns each LF into CRLF, so what
 * goes out has CRLF line ends only. A lone CR must never reach a server that
 * might end DATA on "\r.\r\n" (RFC 5321 section 2.3.8; SMTP smuggling).
 * collect.ts already refuses or normalises bare line ends; this keeps that
 * promise for any other way a body might arrive here. Hand-written: a few
 * lines, and no stream library does just this.
 */
export class LoneCrToLf extends Transform {
  private heldCR = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    // Fast path: the stored body has no CR at all.
    if (!this.heldCR && chunk.indexOf(0x0d) < 0) return cb(null, chunk);
    let src = this.heldCR ? Buffer.concat([Buffer.from('\r'), chunk]) : chunk;
    this.heldCR = src.length > 0 && src[src.length - 1] === 0x0d;
    if (this.heldCR) src = src.subarray(0, src.length - 1);
    const out = Buffer.from(src);
    for (let i = 0; i < out.length; i++) if (out[i] === 0x0d && out[i + 1] !== 0x0a) out[i] = 0x0a;
    cb(null, out);
  }

  override _flush(cb: TransformCallback): void {
    cb(null, this.heldCR ? Buffer.from('\n') : undefined);
  }
}
