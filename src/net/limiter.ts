/** Counts concurrent connections in all and per client IP. */
export interface ConnectionLimiter {
  /** Reserves a slot; 'ok' means release() must follow when the connection ends. */
  acquire(ip: string): Promise<'ok' | 'total' | 'per_ip'>;
  release(ip: string): void;
}

export class LocalLimiter implements ConnectionLimiter {
  private total = 0;
  private perIp = new Map<string, number>();

  constructor(private readonly maxTotal: number, private readonly maxPerIp: number) {}

  acquireSync(ip: string): 'ok' | 'total' | 'per_ip' {
    if (this.total >= this.maxTotal) return 'total';
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.maxPerIp) return 'per_ip';
    this.total++;
    this.perIp.set(ip, n + 1);
    return 'ok';
  }

  acquire(ip: string): Promise<'ok' | 'total' | 'per_ip'> {
    return Promise.resolve(this.acquireSync(ip));
  }

  release(ip: string): void {
    const n = this.perIp.get(ip) ?? 0;
    if (n <= 1) this.perIp.delete(ip);
    else this.perIp.set(ip, n - 1);
    if (this.total > 0) this.total--;
  }
}
