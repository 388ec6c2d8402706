/**
 * A browser without a browser, for the SSO tests: plain HTTP with a cookie jar per host,
 * following redirects by hand and posting the identity provider's login and consent forms.
 */
export class HttpBrowser {
  private readonly jar = new Map<string, Map<string, string>>();

  private cookiesFor(url: URL): string {
    return [...(this.jar.get(url.host) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private keep(url: URL, res: Response): void {
    const jar = this.jar.get(url.host) ?? new Map<string, string>();
    for (const c of res.headers.getSetCookie()) {
      const [pair = ''] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0\b/i.test(c) || /expires=Thu, 01 Jan 1970/i.test(c) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    this.jar.set(url.host, jar);
  }

  cookie(host: string, name: string): string | undefined {
    return this.jar.get(host)?.get(name);
  }

  /** One request, no redirect followed; cookies sent and kept. */
  async request(
    href: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<Response> {
    const url = new URL(href);
    const headers: Record<string, string> = { cookie: this.cookiesFor(url) };
    let body: string | undefined;
    if (init.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(url, {
      method: init.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      body,
      redirect: 'manual',
    });
    this.keep(url, res);
    return res;
  }

  /**
   * Follows redirects and the provider's forms (login as `login`, then consent) from `href` until
   * a redirect to a URL starting with `stopAt` (returned, not requested).
   */
  async signInAtProvider(href: string, login: string, stopAt: string): Promise<string> {
    let url = href;
    for (let i = 0; i < 20; i++) {
      const res = await this.request(url);
      if (res.status >= 300 && res.status < 400) {
        const next = new URL(res.headers.get('location') ?? '', url).href;
        if (next.startsWith(stopAt)) return next;
        url = next;
        continue;
      }
      const html = await res.text();
      const form = /<form[^>]*action="([^"]+)"[^>]*method="post"/.exec(html);
      const prompt = /name="prompt" value="(\w+)"/.exec(html);
      if (res.status !== 200 || form === null || prompt === null) {
        throw new Error(
          `unexpected answer from the provider (${res.status}) at ${url}: ${html.slice(0, 300)}`,
        );
      }
      const action = new URL(form[1] ?? '', url).href;
      const fields: Record<string, string> =
        prompt[1] === 'login' ? { prompt: 'login', login, password: 'any' } : { prompt: prompt[1] ?? '' };
      const posted = await this.request(action, { form: fields });
      if (posted.status < 300 || posted.status >= 400) {
        throw new Error(
          `the provider's form answered ${posted.status}: ${(await posted.text()).slice(0, 300)}`,
        );
      }
      const next = new URL(posted.headers.get('location') ?? '', action).href;
      if (next.startsWith(stopAt)) return next;
      url = next;
    }
    throw new Error('too many redirects at the identity provider');
  }
}
