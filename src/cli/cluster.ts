import { isClusterStore, pgTargetOf, storeSpecOf } from '../ledger/open.js';
import { openPool, storeError } from '../ledger/store/pg/connect.js';
import { retireNode } from '../ledger/store/pg/lag.js';
import { configFrom, parse, UsageError } from './common.js';

export const CLUSTER_HELP = `mailproof cluster retire NODE
  A node of a cluster that is out of service for good: research stops
  naming it as a possible gap (and reports are written again). Whatever its
  journal held that the store never got is lost; a node that comes back
  reports again by itself.`;

export async function clusterCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {}, true);
  if (values.help) { process.stdout.write(`${CLUSTER_HELP}\n`); return 0; }
  const [sub, node, ...extra] = positionals;
  if (sub !== 'retire' || !node || extra.length) throw new UsageError('usage: mailproof cluster retire NODE');
  const cfg = configFrom(values);
  const spec = storeSpecOf(cfg);
  if (!isClusterStore(spec)) throw new UsageError('mailproof cluster: the store is not a cluster\'s PostgreSQL (ledger.store = postgres://...)');
  const pool = openPool(pgTargetOf(spec), { max: 1, application: 'mailproof cluster' });
  try {
    const n = await retireNode(pool, node).catch((err: unknown) => { throw storeError(spec.store, err); });
    if (n === 0) { process.stderr.write(`mailproof: no node ${JSON.stringify(node)} has reported to this store\n`); return 1; }
    process.stdout.write(`retired node ${node} (${n} stream(s))\n`);
    return 0;
  } finally {
    await pool.end();
  }
}
