/**
 * Imported first by bench/run.ts, before anything reads DATABASE_URL / REDIS_URL at load time
 * (test/support/backends.ts): unset, the benchmark uses the Postgres and Redis every machine of ours runs
 * on loopback. It creates its own database there and uses its own Redis keys, removed at the end.
 */
process.env.DATABASE_URL ||= 'postgres://postgres@127.0.0.1:5432/postgres';
process.env.REDIS_URL ||= 'redis://127.0.0.1:6379';
