// Runs one isolation move in a child process for the crash tests. It prints each step on
// stdout and, at the chosen point, stops and waits to be killed with SIGKILL:
//   node --import tsx test/residency/isolation-move-child.ts <config.json> <tenant> <to> <at>
// <at> is a step of the move (`copied`, `switched`, …) or `dropping`: inside the transaction
// that drops the old layout, after its first DROP or DELETE ran and before it commits.
import { readFileSync } from 'node:fs';
import type { Isolation } from '../../src/config/schema.ts';
import { Tenancy } from '../../src/index.ts';

const [configPath, tenant, to, at] = process.argv.slice(2) as [string, string, Isolation, string];
const tenancy = await Tenancy.open(JSON.parse(readFileSync(configPath, 'utf8')) as object,
  { command: 'isolation move crash test' });
const say = (line: string): void => { process.stdout.write(`${line}\n`); };
const hang = (): Promise<never> => new Promise<never>(() => { setInterval(() => {}, 60_000); });

if (at === 'dropping') {
  // The old layout (schema or row) lives in the shared database: its drop is one transaction
  // there. Once the drop began, its first DROP or DELETE is let through and the process stops
  // before the next statement, with the transaction open.
  const from = await tenancy.tenants.get(tenant);
  const region = tenancy.regionOf(from);
  const placement = region.placement(from.isolation);
  const shared = region.driver.shared;
  const transaction = shared.transaction.bind(shared);
  let dropping = false;
  shared.transaction = (role, fn, options) => transaction(role, dropping
    ? async (tx) => {
      let removed = false;
      const query = tx.query.bind(tx);
      return fn({ exec: tx.exec.bind(tx), query: async (sql, params) => {
        if (removed) {
          say('dropping');
          return hang();
        }
        removed = /^\s*(DROP|DELETE)\b/i.test(sql);
        return query(sql, params);
      } } as typeof tx);
    }
    : fn, options);
  const drop = placement.drop.bind(placement);
  placement.drop = async (id) => {
    dropping = true;
    return drop(id);
  };
}

const done = await tenancy.tenants.move(tenant, { isolation: to }, {
  settleMillis: 0,
  onStep: async (step) => {
    say(step);
    if (step === at) await hang();
  },
});
say(`done ${done.to}`);
await tenancy.close();
