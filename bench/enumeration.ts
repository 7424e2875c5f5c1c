/**
 * ABU-03 figure: does a sign-in with an unknown email cost the same as one with a wrong password?
 * Runs the real app in-process on the embedded store at the production argon2 cost, posts N failed
 * sign-ins of each kind through the real login form (interleaved, so machine noise hits both alike) and
 * prints the medians and their ratio. A figure to read, not a timed test: it never fails on a slow machine.
 *
 *   npm run bench:enumeration            (SAMPLES=200 by default)
 */
import { startTestServer } from '../test/support/app.ts';
import { UserAgent } from '../test/support/browserless.ts';
import { authorizationUrl, seedBasics, USER } from '../test/support/fixtures.ts';
import { openLoginPage, submit } from '../test/support/forms.ts';

const samples = Number(process.env.SAMPLES ?? 200);
const server = await startTestServer({ DATA_DIR: 'memory://', ARGON2_MEMORY_KIB: '19456', ARGON2_TIME_COST: '2' });
await seedBasics(server);

async function timeFailure(email: string): Promise<number> {
  const ua = new UserAgent();
  const page = await openLoginPage(ua, server.issuer, authorizationUrl(server.issuer, 'web'));
  const started = process.hrtime.bigint();
  const response = await submit(ua, page.login, { email, password: 'not the password' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (response.status !== 400) throw new Error(`expected a refused sign-in, got ${response.status}`);
  return ms;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const known: number[] = [];
const unknown: number[] = [];
for (let i = 0; i < samples; i += 1) {
  known.push(await timeFailure(USER.email));
  unknown.push(await timeFailure(`nobody-${i}@example.com`));
}
await server.close();

const ratio = median(unknown) / median(known);
console.log('| failed sign-in | median ms |');
console.log('| --- | --- |');
console.log(`| known email, wrong password | ${median(known).toFixed(1)} |`);
console.log(`| unknown email | ${median(unknown).toFixed(1)} |`);
console.log(`\nratio unknown/known: ${ratio.toFixed(3)} (target 0.9-1.1) over ${samples} samples each`);
