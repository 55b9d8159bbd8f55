import { z } from 'zod';
import { configSchema } from './schema.js';

// The README's key list is generated from the schema (`mailproof config
// --reference`), and a test checks the README holds exactly this text.

interface JsonNode {
  type?: string | string[];
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonNode>;
  additionalProperties?: JsonNode | boolean;
  anyOf?: JsonNode[];
  enum?: unknown[];
  const?: unknown;
  items?: JsonNode;
}

/** Defaults taken from the machine, shown as what they mean. */
const MACHINE_DEFAULTS: Record<string, string> = {
  node: 'the host name',
  hostname: 'the host name',
  domains: '`demo.test` with mailbox `demo` (alias `postmaster`)',
};

function typeOf(n: JsonNode): string {
  if (n.enum) return n.enum.map((e) => JSON.stringify(e)).join(' \\| ');
  if (n.anyOf) return n.anyOf.map(typeOf).join(' \\| ');
  if (n.const !== undefined) return JSON.stringify(n.const);
  if (n.type === 'array') return `list of ${n.items ? typeOf(n.items) : 'values'}`;
  if (Array.isArray(n.type)) return n.type.join(' \\| ');
  return n.type ?? 'value';
}

function fmtDefault(key: string, n: JsonNode): string {
  if (MACHINE_DEFAULTS[key]) return MACHINE_DEFAULTS[key]!;
  if (n.default === undefined) return '';
  return '`' + JSON.stringify(n.default) + '`';
}

type Override = NonNullable<NonNullable<Parameters<typeof z.toJSONSchema>[1]>['override']>;

/**
 * The listen lists take one HOST:PORT alone as well (config/listen.ts: a
 * preprocess that makes it a list). zod describes only the list, and drops
 * the default of a key whose input is transformed; the reference says both.
 */
interface Def { type: string; in?: { _zod: { def: Def } }; innerType?: { _zod: { def: Def } }; defaultValue?: unknown }
const isPreprocess = (d: Def | undefined): boolean => d?.type === 'pipe' && d.in?._zod.def.type === 'transform';
const singleOrList: Override = (ctx) => {
  const def = ctx.zodSchema._zod.def as Def;
  const json = ctx.jsonSchema as JsonNode;
  if (isPreprocess(def) && json.type === 'array' && json.items) {
    const items = json.items;
    delete json.type;
    delete json.items;
    json.anyOf = [items, { type: 'array', items }];
  }
  if (def.type === 'default' && isPreprocess(def.innerType?._zod.def) && json.default === undefined) json.default = def.defaultValue;
};

export function configReference(): string {
  const root = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any', override: singleOrList }) as JsonNode;
  const rows: string[] = ['| key | type | default | meaning |', '|---|---|---|---|'];
  const walk = (n: JsonNode, prefix: string): void => {
    for (const [k, child] of Object.entries(n.properties ?? {})) {
      const key = prefix ? `${prefix}.${k}` : k;
      const desc = (child.description ?? '').replace(/\|/g, '\\|');
      if (child.properties) {
        if (child.description) rows.push(`| \`${key}\` | section | | ${desc} |`);
        walk(child, key);
      } else if (child.type === 'object' && typeof child.additionalProperties === 'object' && child.additionalProperties.properties) {
        rows.push(`| \`${key}\` | map | ${fmtDefault(key, child)} | ${desc} |`);
        walk(child.additionalProperties, `${key}.<name>`);
      } else {
        rows.push(`| \`${key}\` | ${typeOf(child)} | ${fmtDefault(key, child)} | ${desc} |`);
      }
    }
  };
  walk(root, '');
  return rows.join('\n') + '\n';
}
