import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** A person at the test identity provider; the login form's "login" field is the `sub`. */
export interface TestAccount {
  sub: string;
  email: string;
  emailVerified: boolean;
  name?: string;
  groups?: string[];
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  close(): Promise<void>;
}

/**
 * A certified OpenID Provider (the `oidc-provider` package, 8.x) on loopback, with one
 * confidential client for Keywarden (PKCE required) and the given accounts. Its development
 * login and consent forms take any password.
 */
export async function startProvider(opts: {
  redirectUri: string;
  accounts: readonly TestAccount[];
  host?: string;
}): Promise<TestProvider> {
  const server: Server = createServer();
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://${host}:${port}`;
  const clientId = 'keywarden-test';
  const clientSecret = 'keywarden-test-client-secret-0123456789';
  const accounts = new Map(opts.accounts.map((a) => [a.sub, a]));
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [opts.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    findAccount: (_ctx: unknown, sub: string) => {
      const a = accounts.get(sub);
      if (a === undefined) return undefined;
      return {
        accountId: sub,
        claims: () =>
          Promise.resolve({
            sub,
            email: a.email,
            email_verified: a.emailVerified,
            ...(a.name === undefined ? {} : { name: a.name }),
            ...(a.groups === undefined ? {} : { groups: a.groups }),
          }),
      };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    // Scope claims in the ID token itself (not only at the userinfo endpoint).
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    cookies: { keys: ['oidc-provider-test-cookie-key-0123456789'] },
    features: { devInteractions: { enabled: true } },
  });
  // Its own warnings about development settings are expected here.
  provider.on('server_error', (_ctx, err) => {
    console.error('test identity provider error', err);
  });
  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** A free loopback port (for a server whose URL must be known before it starts). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    s.close(() => {
      resolve();
    }),
  );
  return port;
}
