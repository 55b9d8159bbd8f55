import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { commandHint, configFile, instanceArgs, setInvocation, shellQuote } from './invocation.js';

test('shellQuote: plain words stay, the rest survives a POSIX shell as one word', () => {
  assert.equal(shellQuote('/var/lib/mailproof'), '/var/lib/mailproof');
  assert.equal(shellQuote('data_dir=/x'), 'data_dir=/x');
  for (const s of ['a b', "it's", '$HOME', 'a;rm -rf /', '`x`', '"q"', '*', '~/x', '', 'tab\there', 'new\nline']) {
    const q = shellQuote(s);
    assert.equal(execFileSync('sh', ['-c', `printf %s ${q}`], { encoding: 'utf8' }), s, q);
  }
});

test('the instance options: --config and --data-dir absolute, and the -o that say where the files are', () => {
  setInvocation({ config: 'conf/my mailproof.yaml', dataDir: '/srv/mp', overrides: ['smtp.max_recipients=5', 'web.users_file=/etc/mp/users.json', 'data_dir=/x', 'ledger.store=postgres://mp@db/mp'] });
  assert.equal(configFile(), `${process.cwd()}/conf/my mailproof.yaml`);
  assert.equal(instanceArgs(), `--config '${process.cwd()}/conf/my mailproof.yaml' --data-dir /srv/mp -o web.users_file=/etc/mp/users.json -o data_dir=/x -o ledger.store=postgres://mp@db/mp`);
  assert.match(commandHint('user add NAME --role staff'), / user add NAME --role staff --config '.*\/conf\/my mailproof\.yaml' --data-dir \/srv\/mp /);
  setInvocation({});
  assert.equal(instanceArgs(), '');
  assert.match(commandHint('migrate'), /^(mailproof|node \S+) migrate$/);
});
