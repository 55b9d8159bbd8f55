// Generations of settings for sessions: a snapshot built from one
// configuration, which each session takes when it connects and keeps until it
// closes. A reload builds the next generation completely, then switches to
// it: new sessions get the new one, sessions in progress finish under the
// one they started with. A resource a generation holds (a check's SQLite
// handle ...) is closed when no live generation holds it any more: the
// current one, or an old one that still has sessions. Resources that did
// not change are simply handed on to the next generation and stay open.

export interface Closable {
  close(): void | Promise<void>;
}

export interface Generation {
  readonly id: number;
  /** What is closed when the last generation holding it is gone. */
  readonly resources: ReadonlySet<Closable>;
}

export class Generations<G extends Generation> {
  private cur: G;
  /** Sessions per generation; old generations stay here while they have sessions. */
  private readonly users = new Map<G, number>();

  constructor(first: G, private readonly onCloseError: (err: Error) => void = () => undefined) {
    this.cur = first;
    this.users.set(first, 0);
  }

  get current(): G {
    return this.cur;
  }

  /** Generations still alive (the current one and old ones with sessions). */
  get live(): number {
    return this.users.size;
  }

  /** A session starts: it keeps this generation until release. */
  acquire(): G {
    const g = this.cur;
    this.users.set(g, (this.users.get(g) ?? 0) + 1);
    return g;
  }

  release(g: G): void {
    // Unknown: already retired, or closed by closeAll at stop.
    if (!this.users.has(g)) return;
    const n = this.users.get(g)! - 1;
    if (n > 0 || g === this.cur) {
      this.users.set(g, Math.max(0, n));
      return;
    }
    this.retire(g);
  }

  /** From now on new sessions get `next`; the old generation goes when its last session ends. */
  switchTo(next: G): void {
    if (next === this.cur) return;
    const old = this.cur;
    this.cur = next;
    this.users.set(next, this.users.get(next) ?? 0);
    if ((this.users.get(old) ?? 0) === 0) this.retire(old);
  }

  /** Closes what the live generations no longer hold (at stop: everything). */
  closeAll(): void {
    const all = [...this.users.keys()];
    this.users.clear();
    const seen = new Set<Closable>();
    for (const g of all) for (const r of g.resources) if (!seen.has(r)) { seen.add(r); this.closeOne(r); }
  }

  private retire(g: G): void {
    this.users.delete(g);
    for (const r of g.resources) {
      let held = false;
      for (const other of this.users.keys()) if (other.resources.has(r)) { held = true; break; }
      if (!held) this.closeOne(r);
    }
  }

  private closeOne(r: Closable): void {
    try {
      const p = r.close();
      if (p instanceof Promise) p.catch((err: Error) => this.onCloseError(err));
    } catch (err) {
      this.onCloseError(err as Error);
    }
  }
}
