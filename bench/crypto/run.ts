// Tenancy's envelope against bare node:crypto AES-256-GCM: encrypt + decrypt of the same
// payloads in the same process, with the tenant's keys warm in the cache.
import {
  createCipheriv, createDecipheriv, randomBytes, randomFillSync, type CipherGCM,
  type DecipherGCM,
} from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Tenancy } from '../../src/index.ts';
import { median } from '../isolation/measure.ts';

const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const millis = Number(process.env.BENCH_MILLIS ?? 1000);
const sizes = [1024, 64 * 1024];
const target = 0.8;

type RoundTrip = (payload: Buffer, i: number) => void;

/** Round trips per second of `work` over one timed window, after a short warm-up. */
function measure(work: RoundTrip, payload: Buffer): number {
  const warm = performance.now() + Math.min(200, millis / 4);
  let i = 0;
  while (performance.now() < warm) work(payload, i++);
  const start = performance.now();
  const end = start + millis;
  let ops = 0;
  while (performance.now() < end) {
    // Batches of 16 keep the clock reads out of the measurement.
    for (let k = 0; k < 16; k++) work(payload, i++);
    ops += 16;
  }
  return ops / ((performance.now() - start) / 1000);
}

/** AES-256-GCM with a random 96-bit nonce: what an application would write by hand. */
function bare(): RoundTrip {
  const key = randomBytes(32);
  const nonce = Buffer.allocUnsafe(12);
  return (payload) => {
    randomFillSync(nonce);
    const cipher = createCipheriv('aes-256-gcm', key, nonce) as CipherGCM;
    const body = Buffer.concat([cipher.update(payload), cipher.final()]);
    const tag = cipher.getAuthTag();
    const decipher = createDecipheriv('aes-256-gcm', key, nonce) as DecipherGCM;
    decipher.setAuthTag(tag);
    const plain = Buffer.concat([decipher.update(body), decipher.final()]);
    if (plain.length !== payload.length) throw new Error('bare round trip lost bytes');
  };
}

function format(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tenancy-bench-crypto-'));
  const tenancy = await Tenancy.open({ dataDir, logLevel: 'silent' }, {
    encryptedFields: [{ table: 'bench_values', idColumn: 'id', columns: ['value'] }],
  });
  const lines: string[] = [];
  try {
    await tenancy.tenants.create({ id: 'bench', isolation: 'row' });
    // The measurement runs inside one session, so the tenant's keys come from the warm cache
    // and every call goes through the public `scope.crypto`, envelope header, AAD and all.
    await tenancy.withTenant('bench', async ({ crypto }) => {
      const tenancyTrip: RoundTrip = (payload, i) => {
        const row = String(i & 1023);
        const sealed = crypto.seal('bench_values', 'value', row, payload);
        const plain = crypto.openBytes('bench_values', 'value', row, sealed);
        if (plain.length !== payload.length) throw new Error('tenancy round trip lost bytes');
      };
      const bareTrip = bare();
      lines.push('| payload | Tenancy round trips/s | bare round trips/s | ratio | target | ' +
        'Tenancy MiB/s | rounds (Tenancy / bare) |',
      '| --- | ---: | ---: | ---: | ---: | ---: | --- |');
      for (const size of sizes) {
        const payload = randomBytes(size);
        const mine: number[] = [];
        const theirs: number[] = [];
        for (let round = 1; round <= rounds; round++) {
          // The side that goes first alternates, so neither always meets a warmer CPU.
          const order = round % 2 === 1 ? ['tenancy', 'bare'] : ['bare', 'tenancy'];
          for (const side of order) {
            if (side === 'tenancy') mine.push(measure(tenancyTrip, payload));
            else theirs.push(measure(bareTrip, payload));
          }
          process.stderr.write(`${size} B round ${round}/${rounds}: tenancy ` +
            `${format(mine.at(-1) as number)}/s, bare ${format(theirs.at(-1) as number)}/s\n`);
        }
        const a = median(mine);
        const b = median(theirs);
        const ratio = a / b;
        lines.push(`| ${size / 1024} KiB | ${format(a)} | ${format(b)} | ${ratio.toFixed(2)} | ` +
          `${target} ${ratio >= target ? 'PASS' : 'BELOW'} | ${format(a * size / 2 ** 20)} | ` +
          `${mine.map(format).join(', ')} / ${theirs.map(format).join(', ')} |`);
      }
    });
  } finally {
    await tenancy.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  process.stdout.write(`encrypt + decrypt, medians of ${rounds} rounds of ${millis} ms, ` +
    `Node ${process.version}\n\n${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`crypto bench failed: ${err instanceof Error ? err.stack : err}\n`);
  process.exitCode = 1;
});
