// Runs one backup or restore in a child process for the crash tests, reporting each step on
// stdout so the parent can kill it with SIGKILL at a chosen point.
//   node --import tsx test/backup/crash-child.ts <config.json> backup|restore <tenant> [id]
//   [hang-before-manifest]
import { readFileSync } from 'node:fs';
import { Tenancy } from '../../src/index.ts';

const [configPath, op, tenant, id, hang] = process.argv.slice(2) as [string, string, string,
  string | undefined, string | undefined];
const tenancy = await Tenancy.open(JSON.parse(readFileSync(configPath, 'utf8')) as object,
  { command: 'backup crash test' });
const say = (line: string): void => { process.stdout.write(`${line}\n`); };

if (hang === 'hang-before-manifest') {
  // Stops the backup after its data object is complete, just before the manifest would go in.
  const store = await tenancy.backups.store('local');
  const put = store.put.bind(store);
  store.put = async (key, body) => {
    if (key.endsWith('/manifest.json') && key.startsWith(`tenants/${tenant}/`)) {
      say('manifest');
      await new Promise(() => {});
    }
    return put(key, body);
  };
}

if (op === 'backup') {
  const info = await tenancy.backups.create(tenant, {
    chunkBytes: 16 * 1024, onProgress: (p) => say(`progress ${p.rows} ${p.total}`),
  });
  say(`done ${info.id}`);
} else {
  const done = await tenancy.backups.restore(tenant, id as string, {
    onProgress: (p) => say(`progress ${p.rows} ${p.total}`),
  });
  say(`done ${done.rows}`);
}
await tenancy.close();
