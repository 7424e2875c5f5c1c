/**
 * REC-01 figure: does "forgot password" cost the same for a known and an unknown address? Runs the real
 * app in-process on the embedded store, posts N requests of each kind through the real form
 * (interleaved, so machine noise hits both alike) and prints the medians and their ratio. The mail is
 * only queued on the request path (the outbox sends it later), which is what keeps the two alike.
 * A figure to read, not a timed test.
 *
 *   npm run bench:forgot-password            (SAMPLES=200 by default)
 */
import { UserAgent, inputValue } from '../test/support/browserless.ts';
import { USER } from '../test/support/fixtures.ts';
import { spawnServer } from './support/spawn-server.ts';

const samples = Number(process.env.SAMPLES ?? 200);
// The server runs in its own process: a remote client never waits for work done after the response.
// Each request uses a new forwarded IP so per-IP limits never turn the measurement into 429s.
const server = await spawnServer();

async function timeForgot(email: string, i: number): Promise<number> {
  const ua = new UserAgent();
  const ip = { 'x-forwarded-for': `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` };
  const html = await (await ua.get(`${server.issuer}/forgot-password`, ip)).text();
  const started = process.hrtime.bigint();
  const response = await ua.request(`${server.issuer}/forgot-password`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...ip },
    body: new URLSearchParams({ csrf: inputValue(html, 'csrf'), email }).toString(),
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (response.status !== 200) throw new Error(`expected 200, got ${response.status}`);
  return ms;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const known: number[] = [];
const unknown: number[] = [];
// A pause between requests lets the work a known address starts after its response finish before the
// next request is timed, so each figure is the request path alone, as a remote client sees it.
const settle = () => new Promise((resolve) => setTimeout(resolve, 25));
for (let i = 0; i < samples; i += 1) {
  known.push(await timeForgot(USER.email, 2 * i));
  await settle();
  unknown.push(await timeForgot(`nobody-${i}@example.com`, 2 * i + 1));
  await settle();
}
server.stop();

console.log('| forgot password | median ms |');
console.log('| --- | --- |');
console.log(`| known address | ${median(known).toFixed(2)} |`);
console.log(`| unknown address | ${median(unknown).toFixed(2)} |`);
console.log(`\nratio unknown/known: ${(median(unknown) / median(known)).toFixed(3)} (target 0.9-1.1) over ${samples} samples each`);
