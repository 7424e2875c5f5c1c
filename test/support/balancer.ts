import type { TestServer } from './app.ts';
import type { Transport } from './browserless.ts';

/** One Gatehouse process behind the balancer: all it needs is where the process listens. */
interface Member<S> {
  name: string;
  server: S;
  inFlight: number;
}

/**
 * Stands in for the load balancer in front of several Gatehouse instances that share one issuer: a
 * request for the issuer goes to the next instance in turn (round robin, so consecutive requests of one
 * sign-in land on different instances) with the X-Forwarded-* headers a TLS-terminating proxy adds (the
 * instances run with TRUST_PROXY=true and an https ISSUER). Callers keep the issuer's URLs and cookies,
 * as a browser and a relying party would; only the balancer knows the instances' real ports.
 *
 * Taking an instance out (`remove`) waits for its requests in flight, as a balancer does once readiness
 * fails, so a rolling restart tests shared state, not connection draining (REL-F8 has its own test).
 */
export class Balancer<S extends { url: string } = TestServer> {
  readonly issuer: string;
  /** Which instance answered each request, in order: "A POST /interaction/…/login". */
  readonly log: string[] = [];
  private members: Array<Member<S>> = [];
  private turn = 0;

  constructor(issuer: string) {
    this.issuer = issuer;
  }

  add(name: string, server: S): void {
    this.members.push({ name, server, inFlight: 0 });
  }

  /** Stops sending requests to `name`, waits until its requests in flight have answered, and returns it. */
  async remove(name: string): Promise<S> {
    const member = this.members.find((candidate) => candidate.name === name);
    if (!member) throw new Error(`no instance ${name} behind the balancer`);
    this.members = this.members.filter((candidate) => candidate !== member);
    while (member.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    return member.server;
  }

  /** Round robin over the instances (for UserAgent and openid-client's customFetch). */
  readonly fetch: Transport = (url, init) => {
    if (this.members.length === 0) throw new Error('no instance behind the balancer');
    const member = this.members[this.turn++ % this.members.length]!;
    return this.send(member, url, init);
  };

  /** Always the named instance: a test that must say which instance answers one step. */
  to(name: string): Transport {
    return (url, init) => {
      const member = this.members.find((candidate) => candidate.name === name);
      if (!member) throw new Error(`no instance ${name} behind the balancer`);
      return this.send(member, url, init);
    };
  }

  private async send(member: Member<S>, url: string, init: RequestInit): Promise<Response> {
    if (!url.startsWith(this.issuer)) return fetch(url, init);
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-proto', 'https');
    headers.set('x-forwarded-host', new URL(this.issuer).host);
    const path = url.slice(this.issuer.length);
    member.inFlight += 1;
    try {
      const response = await fetch(member.server.url + path, { ...init, headers });
      this.log.push(`${member.name} ${init.method ?? 'GET'} ${path.split('?')[0]}`);
      // The body is read here so that "answered" means the instance has finished with the request.
      const body = response.status === 204 || response.status === 304 ? null : await response.arrayBuffer();
      return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
    } finally {
      member.inFlight -= 1;
    }
  }
}
