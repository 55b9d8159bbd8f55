import { DEFAULT_DEMO_DIR, DEMO_WEB_DEFAULT, DEMO_WEB_USER, DemoDirRefused, startDemo, summary, type DemoWeb, type RunningDemo } from '../demo/run.js';
import { CUSTOMER_DOMAIN } from '../demo/zones.js';
import { selfCommand, shellQuote } from '../util/invocation.js';
import { parse, UsageError } from './common.js';

export const DEMO_HELP = `mailproof demo [--data-dir DIR] [--once | --web [HOST:PORT]] [--json] [-o KEY=VALUE]...
  Starts a gateway, its POP3 server and a DNS server of its own on loopback,
  plays the classic stories (viruses, block lists, typos, POP3 thieves ...)
  from several 127.0.0.x addresses, and prints how to trace each one.
  DIR (default ${DEFAULT_DEMO_DIR}) is emptied on every run; a directory not
  made by the demo is refused. Keeps running until Ctrl-C, unless --once.
  --web also serves the web UI over the demo's data (the one serve runs, its
  rechecks asking the demo's DNS server) on HOST:PORT (default
  ${DEMO_WEB_DEFAULT}, or a free port when that is taken), with a staff
  account "${DEMO_WEB_USER}" and a new random password, both printed.
  -o adds to the demo configuration, e.g. a spam scanner:
  -o scanners.spam.backend=spamd -o scanners.spam.address=127.0.0.1:783`;

/** --web takes an optional value, which parseArgs cannot say: a bare --web becomes --web= (the default). */
function optionalWebValue(argv: string[]): string[] {
  return argv.map((a, i) => (a === '--web' && (i + 1 >= argv.length || argv[i + 1]!.startsWith('-')) ? '--web=' : a));
}

/** The command that plays this demo again with the web UI, for the line the summary ends with. */
function webCommand(self: string, dataDir: string | undefined, overrides: string[]): string {
  return [`${self} demo --web`, ...(dataDir ? ['--data-dir', shellQuote(dataDir)] : []), ...overrides.flatMap((o) => ['-o', shellQuote(o)])].join(' ');
}

function webText(w: DemoWeb): string {
  return [
    '',
    `web UI: ${w.url}${w.fellBack ? `   (${DEMO_WEB_DEFAULT} is taken, so a free port)` : ''}`,
    `    log in as ${w.user}, password ${w.password}   (a staff account for this run, in ${w.usersFile})`,
    `    search the domain ${CUSTOMER_DOMAIN} and open a journey; "Check again now" asks the demo's DNS server`,
    '',
  ].join('\n');
}

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parse(optionalWebValue(argv), { once: { type: 'boolean' }, json: { type: 'boolean' }, web: { type: 'string' } });
  if (values.help) { process.stdout.write(DEMO_HELP + '\n'); return 0; }
  if (values.config) throw new UsageError('demo builds its own configuration; add to it with -o KEY=VALUE');
  const withWeb = values.web !== undefined;
  if (withWeb && values.once) throw new UsageError('--web keeps the demo running to serve the web UI; leave out --once');
  const webListen = values.web ? values.web : null;
  if (webListen !== null && !/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/.test(webListen)) {
    throw new UsageError(`--web ${webListen}: expected HOST:PORT, e.g. ${DEMO_WEB_DEFAULT}, or --web alone`);
  }
  const overrides = values.o ?? [];
  const self = selfCommand();
  const out = (s: string): void => { if (!values.json) process.stdout.write(s); };
  // -o web.listen=... says where as well (the configuration has it); --web HOST:PORT wins over it.
  const fromOverride = webListen === null && overrides.some((o) => /^\s*web\.listen\s*=/.test(o));
  let demo: RunningDemo;
  try {
    demo = await startDemo({
      dataDir: values['data-dir'] ?? DEFAULT_DEMO_DIR,
      overrides,
      web: withWeb ? { listen: webListen !== null ? [webListen] : fromOverride ? 'config' : null, option: fromOverride ? 'demo -o web.listen' : 'demo --web' } : undefined,
    }, out);
  } catch (err) {
    if (err instanceof DemoDirRefused) throw new UsageError(err.message);
    throw err;
  }
  const web = demo.web;
  const again = webCommand(self, values['data-dir'] ? demo.cfg.data_dir : undefined, overrides);
  if (values.json) {
    process.stdout.write(JSON.stringify({
      data_dir: demo.cfg.data_dir, smtp: demo.smtp, pop3: demo.pop3, dns: demo.dns.address, stories: demo.results,
      ...(web ? { web: { url: web.url, user: web.user, password: web.password } } : { web_command: again }),
    }, null, 2) + '\n');
  } else {
    process.stdout.write(summary(demo, self));
  }
  // The last line a newcomer sees without --web: the command that does it with --web.
  const webHint = (first: string): string => `the same stories in the web UI, with a staff login made for you: ${first}\n    ${again}\n`;
  if (values.once) {
    await demo.stop();
    out(webHint('run (it plays them again in the same directory)'));
    return 0;
  }
  if (web) out(webText(web));
  out(`the demo keeps running (SMTP ${demo.smtp.host}:${demo.smtp.port}${web ? `, web UI ${web.url}` : ''}); Ctrl-C stops it\n`);
  if (!web) out(webHint('stop this one (Ctrl-C) and run'));
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
