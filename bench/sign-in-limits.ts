/**
 * Issue 7 figure: what the sign-in limits (src/security/sign-in-limits.ts) cost per password attempt.
 * In one process, on each store there is (embedded: PGlite + counters in memory; with DATABASE_URL:
 * Postgres + counters in rate_limits; with both URLs: Postgres + counters in Redis, the production
 * setup), it times the sign-in's domain
 * work, authenticateWithPassword at the test argon2 cost, with the limits around it (admit, authenticate,
 * settle: what POST /login does) and without them (the baseline), interleaved so machine noise hits both
 * alike, for a wrong password at a known account, a right one, and an unknown address. Every sample uses
 * its own address and at most 2 attempts per account, so every attempt is admitted: the cost measured is
 * the admitted path, the one every honest user pays. The figure is the difference, "added by the limits":
 * admit also reads the account row the password check then uses (POST /login does not look it up again),
 * so admit + settle alone, also printed, overstates the cost by the lookup the baseline makes.
 * A figure to read, not a timed test. Target: well under 1 ms added per attempt.
 *
 *   npm run bench:limits            (SAMPLES=1000 per kind by default)
 */
import { cpus, loadavg } from 'node:os';
import { sql } from 'kysely';
import { authenticateWithPassword, checkPassword } from '../src/accounts/authenticate.ts';
import { loadConfig } from '../src/config/load.ts';
import { createPasswordHasher } from '../src/security/passwords.ts';
import { createMemoryLimiterStore, type LimiterStore } from '../src/security/rate-limits.ts';
import { createSignInLimits } from '../src/security/sign-in-limits.ts';
import { insertAccount } from '../src/storage/postgres/accounts.queries.ts';
import { openDatabase, type DatabaseHandle } from '../src/storage/postgres/db.ts';
import { migrateToLatest } from '../src/storage/postgres/migrate.ts';
import { createPostgresLimiterStore } from '../src/storage/postgres/rate-limit-store.ts';
import { createRedisClient } from '../src/storage/redis/client.ts';
import { createRedisLimiterStore } from '../src/storage/redis/rate-limit-store.ts';
import { TEST_ENV } from '../test/support/app.ts';
import { createTestDatabase, postgresUrl, redisUrl, uniqueName } from '../test/support/backends.ts';

const samples = Number(process.env.SAMPLES ?? 1000);
const PASSWORD = 'the right password for the bench';
const config = loadConfig({ ...TEST_ENV, DATA_DIR: 'memory://' });
const hasher = await createPasswordHasher(config.argon2);
const hash = await hasher.hash(PASSWORD);

interface Setup {
  name: string;
  open(): Promise<{ handle: DatabaseHandle; store: LimiterStore; close(): Promise<void> }>;
}

const setups: Setup[] = [
  {
    name: 'embedded (PGlite, counters in memory)',
    async open() {
      const handle = await openDatabase({ kind: 'embedded', dataDir: 'memory://' });
      return { handle, store: createMemoryLimiterStore(), close: () => handle.close() };
    },
  },
];
if (postgresUrl) {
  setups.push({
    name: 'Postgres (counters in rate_limits)',
    async open() {
      const { url, drop } = await createTestDatabase();
      const handle = await openDatabase({ kind: 'postgres', url, poolMax: 5 });
      return { handle, store: createPostgresLimiterStore(handle.db), close: async () => (await handle.close(), await drop()) };
    },
  });
}
if (postgresUrl && redisUrl) {
  setups.push({
    name: 'Postgres + Redis counters (production)',
    async open() {
      const { url, drop } = await createTestDatabase();
      const handle = await openDatabase({ kind: 'postgres', url, poolMax: 5 });
      const redis = createRedisClient(redisUrl!);
      const prefix = `${uniqueName('gh_bench')}:`;
      return {
        handle,
        store: createRedisLimiterStore(redis, prefix),
        async close() {
          const keys = await redis.keys(`${prefix}*`);
          if (keys.length > 0) await redis.del(...keys);
          redis.disconnect();
          await handle.close();
          await drop();
        },
      };
    },
  });
}

const micros = (started: bigint) => Number(process.hrtime.bigint() - started) / 1000;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const p95 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.95)]!;
const address = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

const calibration: string[] = [];
console.log(`sign-in limits: cost per password attempt, ${samples} samples per kind (argon2 m=${config.argon2.memoryCost} KiB, t=${config.argon2.timeCost})\n`);
console.log('| store | attempt | without limits, median µs | with limits, median µs | added by the limits, median µs | admit + settle alone, median / p95 µs |');
console.log('| --- | --- | --- | --- | --- | --- |');

for (const setup of setups) {
  const { handle, store, close } = await setup.open();
  const { db } = handle;
  await migrateToLatest(db);
  const accounts = Math.ceil(samples / 2);
  for (let i = 0; i < accounts; i += 1) {
    await insertAccount(db, { email: `bench-${i}@example.com`, name: null, password_hash: hash, disabled_at: null });
  }
  const limits = createSignInLimits({
    store,
    db,
    limits: config.limits.signIn,
    now: () => new Date(),
    lockMail: { mail: { queue: async () => {} }, locale: 'en', resetUrl: 'http://127.0.0.1/forgot-password' },
  });
  const kinds = [
    { label: 'known account, wrong password', email: (i: number) => `bench-${i % accounts}@example.com`, password: 'a wrong guess' },
    { label: 'known account, right password', email: (i: number) => `bench-${i % accounts}@example.com`, password: PASSWORD },
    { label: 'unknown address', email: (i: number) => `nobody-${i}@example.com`, password: 'a wrong guess' },
  ];
  // Calibration: one database round trip and one counter-store round trip on this machine, now.
  const probe = store({ name: 'bench-probe', points: 1, durationSeconds: 60 });
  const roundTrips = { db: [] as number[], store: [] as number[] };
  for (let i = 0; i < 200; i += 1) {
    let started = process.hrtime.bigint();
    await sql`select 1`.execute(db);
    roundTrips.db.push(micros(started));
    started = process.hrtime.bigint();
    await probe.get(`probe-${i}`);
    roundTrips.store.push(micros(started));
  }
  calibration.push(`${setup.name}: a database round trip (select 1) ${median(roundTrips.db).toFixed(0)} µs, a counter-store read ${median(roundTrips.store).toFixed(0)} µs`);
  let ip = 0;
  for (const kind of kinds) {
    const alone: number[] = [];
    const without: number[] = [];
    const withLimits: number[] = [];
    for (let i = 0; i < samples; i += 1) {
      const email = kind.email(i);
      let started = process.hrtime.bigint();
      await authenticateWithPassword(db, hasher, email, kind.password);
      without.push(micros(started));

      ip += 1;
      started = process.hrtime.bigint();
      const admission = await limits.admit(address(ip), email);
      const admitted = micros(started);
      if (!admission.ok) throw new Error(`the bench must stay under the limits, but ${admission.limit} refused`);
      // As POST /login: the password is checked on the row the admission read, not looked up again.
      const result = await checkPassword(db, hasher, admission.attempt.account, kind.password);
      const settling = process.hrtime.bigint();
      await admission.attempt.settle(result.ok);
      withLimits.push(micros(started));
      alone.push(admitted + micros(settling));
    }
    const difference = median(withLimits) - median(without);
    console.log(
      `| ${setup.name} | ${kind.label} | ${median(without).toFixed(0)} | ${median(withLimits).toFixed(0)} | ${difference.toFixed(0)} | ${median(alone).toFixed(0)} / ${p95(alone).toFixed(0)} |`,
    );
  }
  await close();
}
console.log(`\n${calibration.join('\n')}\nload average ${loadavg().map((value) => value.toFixed(2)).join(' ')} on ${cpus().length} CPUs`);
