// The listener lists of the configuration (smtp.listen, pop3.listen,
// web.listen). Most servers listen on one address, and `listen:
// 127.0.0.1:8090` in YAML or `-o web.listen=127.0.0.1:8090` on the command
// line is how people write that; both mean the list of that one address.
import { z } from 'zod';

/** A value as the user wrote it, short, for an error message. */
function shown(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * A list of listen addresses (each checked by hostPort, the HOST:PORT
 * schema of its section) that also takes one address alone. Only a
 * string that is a valid address becomes a one-element list: anything else
 * (a port alone, "localhost", a comma-separated string) gets one message at
 * the key that shows both accepted forms, instead of "expected array".
 */
export function listenList(hostPort: z.ZodString, examplePort: number) {
  // Port 0 asks the system for a free port (the demo, tests); above 65535 there is none.
  // (Without a port the HOST:PORT message alone says what is wrong.)
  const address = hostPort.refine((s) => Number(/:(\d+)$/.exec(s)?.[1] ?? 0) <= 65535, 'the port must be at most 65535');
  const example = `127.0.0.1:${examplePort}`;
  const forms = `expected HOST:PORT or a list of them, e.g. ${example} or [${example}, "[::1]:${examplePort}"]`;
  return z.preprocess(
    (v) => (typeof v === 'string' && hostPort.safeParse(v).success ? [v] : v),
    z.array(address, { error: (iss) => (iss.code === 'invalid_type' ? `${forms}; got ${shown(iss.input)}` : undefined) }),
  );
}
