// Command line reader for the POP3 server. Written by hand: no installed
// library speaks POP3 (smtp-server is SMTP only), and the framing is simple.
//
// RFC 1939 section 3: commands end with CRLF. We also accept a bare LF (as
// most servers do) and strip the CR. A line longer than the limit is not
// buffered: its bytes are dropped up to the next LF and the line is reported
// as too long, so a client cannot make the server hold unbounded data.

export type LineEvent = { line: Buffer } | { tooLong: true };

export class LineReader {
  private parts: Buffer[] = [];
  private held = 0;
  private discarding = false;

  constructor(private readonly maxLength: number) {}

  /** Feeds received bytes; returns the complete lines (without CRLF) and overlong-line markers in order. */
  push(chunk: Buffer): LineEvent[] {
    const out: LineEvent[] = [];
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(0x0a, start);
      const end = lf === -1 ? chunk.length : lf;
      if (!this.discarding) {
        const piece = chunk.subarray(start, end);
        // The limit counts the line without its CRLF (+1 leaves room for the CR).
        if (this.held + piece.length > this.maxLength + 1) {
          this.parts = [];
          this.held = 0;
          this.discarding = true;
        } else {
          this.parts.push(piece);
          this.held += piece.length;
        }
      }
      if (lf === -1) break;
      if (this.discarding) {
        out.push({ tooLong: true });
        this.discarding = false;
      } else {
        let line = Buffer.concat(this.parts);
        if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
        if (line.length > this.maxLength) out.push({ tooLong: true });
        else out.push({ line });
      }
      this.parts = [];
      this.held = 0;
      start = lf + 1;
    }
    return out;
  }

  /** Drops anything buffered (after STLS, RFC 2595 section 4 / RFC 3207 section 4.2: no plaintext may leak into the TLS session). */
  reset(): void {
    this.parts = [];
    this.held = 0;
    this.discarding = false;
  }

  /** Bytes of an incomplete line held. */
  get pending(): number {
    return this.held;
  }
}
