/** Sends one request the way fetch does; a test balancer passes its own to pick the instance that answers. */
export type Transport = (url: string, init: RequestInit) => Promise<Response>;

/**
 * A minimal cookie-keeping user agent over fetch with manual redirects, for driving the interaction
 * pages without a browser. Only cookies for the Gatehouse origin are kept (that is all the tests need).
 */
export class UserAgent {
  readonly cookies = new Map<string, string>();
  /** Every Set-Cookie header received, in order, for tests of cookie attributes. */
  readonly setCookies: string[] = [];

  /**
   * `via` plays a TLS-terminating proxy: requests for `via.issuer` go to `via.url` with
   * X-Forwarded-Proto: https (the app must run with TRUST_PROXY=true).
   */
  private readonly via: { issuer: string; url: string } | undefined;
  private readonly transport: Transport;

  /** `transport` replaces fetch (test/support/balancer.ts sends each request to one of several instances). */
  constructor(via?: { issuer: string; url: string }, transport: Transport = fetch) {
    this.via = via;
    this.transport = transport;
  }

  private remember(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      this.setCookies.push(header);
      const [pair] = header.split(';');
      const index = pair!.indexOf('=');
      const name = pair!.slice(0, index).trim();
      const value = pair!.slice(index + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(header)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', this.cookieHeader());
    let target = url;
    if (this.via && url.startsWith(this.via.issuer)) {
      target = this.via.url + url.slice(this.via.issuer.length);
      headers.set('x-forwarded-proto', 'https');
      headers.set('x-forwarded-host', new URL(this.via.issuer).host);
    }
    const response = await this.transport(target, { ...init, headers, redirect: 'manual' });
    this.remember(response);
    return response;
  }

  get(url: string, headers?: Record<string, string>): Promise<Response> {
    return this.request(url, { headers });
  }

  post(url: string, form: Record<string, string>): Promise<Response> {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  }

  /** Follows redirects on `origin` until a response is not a redirect or leaves the origin; returns the last URL and response. */
  async follow(url: string, origin: string, response?: Response): Promise<{ url: string; response: Response }> {
    let current = url;
    let last = response ?? (await this.get(current));
    for (let hops = 0; hops < 10 && last.status >= 300 && last.status < 400; hops += 1) {
      current = new URL(last.headers.get('location')!, current).href;
      if (!current.startsWith(origin)) return { url: current, response: last };
      last = await this.get(current);
    }
    return { url: current, response: last };
  }
}

/** The value of a named hidden/visible input or the form action in a page (enough for our own simple pages). */
export function formAction(html: string, pathEnd: string): string {
  const match = new RegExp(`action="([^"]*${pathEnd})"`).exec(html);
  if (!match) throw new Error(`no form posting to ${pathEnd}`);
  return match[1]!.replace(/&amp;/g, '&');
}

/** The value of a named input in one of our pages (e.g. the CSRF token every form carries). */
export function inputValue(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match) throw new Error(`no input named ${name}`);
  return match[1]!.replace(/&amp;/g, '&');
}
