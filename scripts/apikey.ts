// Manages API keys: `npm run apikey -- create --role admin --name ops` prints a new key once;
// `list` shows every key (never the key itself); `revoke <id>` ends a key and its sessions.
import { parseArgs } from 'node:util';
import {
  createApiKey,
  listApiKeys,
  revokeApiKey,
  type ApiKeySummary,
} from '../src/api/auth/api-key.service.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { migrateToLatest, openOrm } from '../src/db/orm.js';
import { API_KEY_ROLES, type ApiKeyRole } from '../src/entities/index.js';

const USAGE = `usage:
  npm run apikey -- create --role admin|viewer --name <name>
  npm run apikey -- list
  npm run apikey -- revoke <id>`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { role: { type: 'string' }, name: { type: 'string' } },
  });
  const [command, argument] = positionals;
  const config = loadConfig();
  const orm = await openOrm(config);
  try {
    await migrateToLatest(orm);
    const em = orm.em.fork();
    if (command === 'create') return await create(em, values.role, values.name);
    if (command === 'list') return print(await listApiKeys(em));
    if (command === 'revoke') return await revoke(em, argument);
    console.error(USAGE);
    return 2;
  } finally {
    await orm.close();
  }
}

async function create(
  em: Parameters<typeof createApiKey>[0],
  role: string | undefined,
  name: string | undefined,
): Promise<number> {
  if (!isRole(role) || !name) {
    console.error(`create needs --role (${API_KEY_ROLES.join(' or ')}) and --name\n${USAGE}`);
    return 2;
  }

  const { key, summary } = await createApiKey(em, { name, role });
  console.log(`created key ${summary.id} (${summary.role}, ${summary.name})`);
  console.log('store it now, it is not shown again:');
  console.log(key);
  return 0;
}

async function revoke(
  em: Parameters<typeof revokeApiKey>[0],
  argument: string | undefined,
): Promise<number> {
  const id = Number(argument);
  if (!Number.isInteger(id) || id <= 0) {
    console.error(`revoke needs a key id\n${USAGE}`);
    return 2;
  }

  if (!(await revokeApiKey(em, id))) {
    console.error(`no active key with id ${id}`);
    return 1;
  }
  console.log(`revoked key ${id}`);
  return 0;
}

function print(keys: ApiKeySummary[]): number {
  console.log(['id', 'role', 'name', 'prefix', 'created', 'last used', 'revoked'].join('\t'));
  for (const key of keys) {
    const dates = [key.createdAt, key.lastUsedAt, key.revokedAt].map(
      (date) => date?.toISOString() ?? '-',
    );
    console.log([key.id, key.role, key.name, `${key.keyPrefix}…`, ...dates].join('\t'));
  }
  return 0;
}

function isRole(value: string | undefined): value is ApiKeyRole {
  return API_KEY_ROLES.includes(value as ApiKeyRole);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exitCode = 2;
}
