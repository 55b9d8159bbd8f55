import { errorMessage, exitCodeOf, loadOptionsFrom, parse, UsageError } from './common.js';

// Each command's module is loaded only when that command runs: loading all of
// them (the SMTP server, DNS, scanners ...) cost seconds of startup on a busy
// machine, which a one-shot command like ingest or trace pays in full.
const helpText = async (): Promise<string> => {
  const [{ TRACE_HELP }, { CHECK_HELP }, { MAILBOX_HELP }, { INGEST_HELP }, { REPORT_HELP }, { USER_HELP }] = await Promise.all([
    import('./trace.js'), import('./check.js'), import('./mailbox.js'), import('./ingest.js'), import('./report.js'), import('./user.js'),
  ]);
  return `mailproof: the mail gateway that proves what happened to a message

usage: mailproof <command> [--config FILE] [--data-dir DIR] [-o KEY=VALUE]...

commands:
  serve    run the SMTP gateway, the POP3 server and the web UI
           [--smtp-listen HOST:PORT]... [--domain NAME]... [--mailbox ADDR]...
  trace    what happened to mail for an address or domain
  report   the customer report of a search (text, HTML or PDF; German or English)
  prune    remove ledger events older than the retention time
  index    bring the store up to the journal now (and convert a ledger of the previous format) [--json]
  migrate  bring a cluster's PostgreSQL store to this version's schema (serve does it at start)
  cluster  retire NODE: a cluster node out of service for good is no longer named as a gap
  config   print or check the effective configuration
  status   state of DNS, clamd and the spam scanner as the gateway sees them
           [--probe] [--json]
  check    DNS diagnostics of a sender domain or address (MX, SPF, DMARC, PTR, DNSBL)
  mailbox  POP3 passwords: set-password ADDR, remove-password ADDR, list
  ingest   Postfix or Dovecot log files into the ledger
  demo     play the classic stories through a gateway on loopback [--once | --web [HOST:PORT]];
           see mailproof demo --help
  user     web UI accounts: add, passwd, remove, token, list

${TRACE_HELP}

${REPORT_HELP}

${CHECK_HELP}

${MAILBOX_HELP}

${INGEST_HELP}

${USER_HELP}
`;
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve': {
      const { values } = parse(rest, {
        'smtp-listen': { type: 'string', multiple: true },
        domain: { type: 'string', multiple: true },
        mailbox: { type: 'string', multiple: true },
      });
      if (values.help) { process.stdout.write(await helpText()); return 0; }
      await (await import('./serve.js')).serveCommand(loadOptionsFrom(values, { smtpListen: values['smtp-listen'], domains: values.domain, mailboxes: values.mailbox }));
      return -1; // keeps running
    }
    case 'trace': return (await import('./trace.js')).traceCommand(rest);
    case 'report': return (await import('./report.js')).reportCommand(rest);
    case 'prune': return (await import('./prune.js')).pruneCommand(rest);
    case 'index': return (await import('./index-cmd.js')).indexCommand(rest);
    case 'migrate': return (await import('./migrate.js')).migrateCommand(rest);
    case 'cluster': return (await import('./cluster.js')).clusterCommand(rest);
    case 'config': return (await import('./config.js')).configCommand(rest);
    case 'status': return (await import('./status.js')).statusCommand(rest);
    case 'check': return (await import('./check.js')).checkCommand(rest);
    case 'mailbox': return (await import('./mailbox.js')).mailboxCommand(rest);
    case 'ingest': return (await import('./ingest.js')).ingestCommand(rest);
    case 'demo': return (await import('./demo.js')).demoCommand(rest);
    case 'user': return (await import('./user.js')).userCommand(rest);
    case undefined: case 'help': case '--help': case '-h':
      process.stdout.write(await helpText());
      return cmd === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${cmd}"; see mailproof --help`);
  }
}

main(process.argv.slice(2)).then(
  (code) => { if (code >= 0) process.exitCode = code; },
  (err: unknown) => {
    // A configuration error, a listen address in use, a store out of reach, a usage error: one message, no stack.
    process.stderr.write(`mailproof: ${errorMessage(err)}\n`);
    process.exitCode = exitCodeOf(err);
  },
);
