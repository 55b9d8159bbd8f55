import path from 'node:path';
import { DEFAULT_DEMO_DIR, DemoDirRefused, startDemo, summary, type RunningDemo } from '../demo/run.js';
import { parse, UsageError } from './common.js';

export const DEMO_HELP = `mailproof demo [--data-dir DIR] [--once] [--json] [-o KEY=VALUE]...
  Starts a gateway, its POP3 server and a DNS server of its own on loopback,
  plays the classic stories (viruses, block lists, typos, POP3 thieves ...)
  from several 127.0.0.x addresses, and prints how to trace each one.
  DIR (default ${DEFAULT_DEMO_DIR}) is emptied on every run; a directory not
  made by the demo is refused. Keeps running until Ctrl-C, unless --once.
  -o adds to the demo configuration, e.g. a spam scanner:
  -o scanners.spam.backend=spamd -o scanners.spam.address=127.0.0.1:783`;

/** How this program was started, so the printed commands can be pasted as they are. */
function selfCommand(): string {
  const script = process.argv[1] ?? '';
  if (path.basename(script) !== 'mailproof.js') return 'mailproof';
  const rel = path.relative(process.cwd(), script);
  return `node ${rel && !rel.startsWith('..') ? rel : script}`;
}

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { once: { type: 'boolean' }, json: { type: 'boolean' } });
  if (values.help) { process.stdout.write(DEMO_HELP + '\n'); return 0; }
  if (values.config) throw new UsageError('demo builds its own configuration; add to it with -o KEY=VALUE');
  const self = selfCommand();
  const out = (s: string): void => { if (!values.json) process.stdout.write(s); };
  let demo: RunningDemo;
  try {
    demo = await startDemo({ dataDir: values['data-dir'] ?? DEFAULT_DEMO_DIR, overrides: values.o ?? [] }, out);
  } catch (err) {
    if (err instanceof DemoDirRefused) throw new UsageError(err.message);
    throw err;
  }
  if (values.json) {
    process.stdout.write(JSON.stringify({
      data_dir: demo.cfg.data_dir, smtp: demo.smtp, pop3: demo.pop3, dns: demo.dns.address, stories: demo.results,
    }, null, 2) + '\n');
  } else {
    process.stdout.write(summary(demo, self));
  }
  if (values.once) {
    await demo.stop();
    return 0;
  }
  out(`the demo keeps running (SMTP ${demo.smtp.host}:${demo.smtp.port}); Ctrl-C stops it\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    demo.stop().then(() => process.exit(0), (err: Error) => { process.stderr.write(`mailproof: ${err.message}\n`); process.exit(1); });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return -1; // keeps running
}
