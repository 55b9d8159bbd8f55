import { configFile } from '../util/invocation.js';

/** "host:port" or "[v6]:port" of a listen address (smtp.listen, pop3.listen, web.listen). */
export function splitHostPort(hp: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(hp);
  if (!m) throw new Error(`bad listen address ${hp}`);
  return { host: m[1]!, port: Number(m[2]) };
}

/**
 * A listener that could not be opened, said as a configuration error: which
 * key, which address, why, and what to change. A second `serve` on the same
 * machine is the common case, and a stack trace of EADDRINUSE tells a
 * newcomer neither which of three listeners it was nor where to change it.
 */
export class ListenError extends Error {
  constructor(
    /** The configuration key: smtp.listen, pop3.listen, web.listen. */
    readonly key: string,
    /** The address as configured. */
    readonly address: string,
    /** EADDRINUSE, EACCES ... */
    readonly code: string,
    /** Why, in words, without the fix: "the address is already in use (another mailproof or another program)". */
    readonly reason: string,
    /** What to do; the whole message is `${key} ${address}: ${reason}; ${fix}`. */
    fix: string,
  ) {
    super(`${key} ${address}: ${reason}; ${fix}`);
    this.name = 'ListenError';
  }
}

/** The failure of listening on `address` (of configuration key `key`) as a ListenError. */
export function listenError(err: unknown, key: string, address: string): ListenError {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? 'ERROR';
  const file = configFile();
  // Where the key is set: the file this instance was started with, or the command line.
  const change = file ? `change ${key} in ${file} (or -o ${key}=HOST:PORT)` : `choose another address with -o ${key}=HOST:PORT (or ${key} in a --config file)`;
  switch (code) {
    case 'EADDRINUSE':
      return new ListenError(key, address, code, 'the address is already in use (another mailproof or another program)', `${change} or stop the other program`);
    case 'EACCES':
      // Linux: ports below 1024 (net.ipv4.ip_unprivileged_port_start) need CAP_NET_BIND_SERVICE.
      // Running as a dedicated user is the way (README "Running as a service"); the unit grants just this capability.
      return new ListenError(key, address, code, 'no permission to listen there (a port below 1024 needs root or the capability CAP_NET_BIND_SERVICE)',
        `${change} to a port above 1023, or give the program that capability (the systemd unit that scripts/install-service.sh installs does: AmbientCapabilities=CAP_NET_BIND_SERVICE)`);
    case 'EADDRNOTAVAIL':
      return new ListenError(key, address, code, 'this machine has no such address', `${change} to one of its addresses (0.0.0.0 or [::] for all)`);
    case 'ENOTFOUND': case 'EAI_AGAIN': case 'EAI_FAIL':
      return new ListenError(key, address, code, 'the host name does not resolve to an address of this machine', `${change} to an IP address`);
    default:
      return new ListenError(key, address, code, `cannot listen there (${(e?.message ?? String(err)).split('\n')[0]})`, change);
  }
}
