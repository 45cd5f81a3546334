// A local OpenID Connect provider for Conduit's sign-in tests, built on oauth2-mock-server.
//
//   node server.mjs [port]        (or PORT=8089 node server.mjs; default 8089)
//
// Listens on 127.0.0.1 only; the issuer is http://127.0.0.1:<port>. Its /authorize
// endpoint signs everybody in at once (no login page): it redirects straight back to the
// redirect_uri with a code. Tokens from the authorization-code grant describe one test
// user, unless the authorization request named another with `login_hint=<email>`, or
// `login_hint=unverified:<email>` for an address the provider has not verified:
//
//   sub                oidc-subject-1              (oidc-subject-<hint> with a hint)
//   email              oidc-user@example.com       (the hint's email)
//   email_verified     true                        (false for `unverified:`)
//   preferred_username oidcuser                    (the hint's local part)
//   name, picture      fixed values
//
// PKCE (S256), the nonce and the audience (the client id) are handled by the mock itself.
//
// `login_hint=flaw:<kind>` signs in the default user with a broken ID token, for the
// client's refusal tests: `audience` (another audience), `issuer` (another issuer),
// `expired` (expired an hour ago) or `signature` (its signature altered); or with
// `unavailable`, the token endpoint answers 503.

import { OAuth2Server } from 'oauth2-mock-server';

const HOST = '127.0.0.1';
const DEFAULT_PORT = 8089;

function port() {
  const raw = process.argv[2] ?? process.env.PORT ?? String(DEFAULT_PORT);
  const value = Number.parseInt(raw, 10);
  if (!Number.isInteger(value) || value < 0 || value > 65535 || String(value) !== raw.trim()) {
    console.error(`oidc-mock: not a port number: ${raw}`);
    process.exit(2);
  }
  return value;
}

const DEFAULT_USER = {
  sub: 'oidc-subject-1',
  email: 'oidc-user@example.com',
  email_verified: true,
  preferred_username: 'oidcuser',
};

const FLAWS = ['audience', 'issuer', 'expired', 'signature', 'unavailable'];

function userFor(hint) {
  if (hint === undefined || hint === '') {
    return DEFAULT_USER;
  }
  if (hint.startsWith('flaw:')) {
    const flaw = hint.slice('flaw:'.length);
    if (!FLAWS.includes(flaw)) {
      throw new Error(`oidc-mock: unknown flaw ${flaw}`);
    }
    return { ...DEFAULT_USER, flaw };
  }
  const unverified = hint.startsWith('unverified:');
  const email = unverified ? hint.slice('unverified:'.length) : hint;
  return {
    sub: `oidc-subject-${hint}`,
    email,
    email_verified: !unverified,
    preferred_username: email.split('@')[0],
  };
}

const server = new OAuth2Server();
// The ID token's signature is what the client checks against /jwks.
await server.issuer.keys.generate('RS256');

// Who signed in, by authorization code: the authorize step sees the login hint, the
// token step only the code. Entries leave when their code is redeemed.
const usersByCode = new Map();

server.service.on('beforeAuthorizeRedirect', (redirect, req) => {
  const code = redirect.url.searchParams.get('code');
  if (code === null) {
    return;
  }
  const hint = typeof req.query.login_hint === 'string' ? req.query.login_hint : undefined;
  usersByCode.set(code, userFor(hint));
});

// Runs for the access token and the ID token of each response; both get the claims, so
// the subject is the same in either.
server.service.on('beforeTokenSigning', (token, req) => {
  if (req.body?.grant_type !== 'authorization_code') {
    return;
  }
  const user = usersByCode.get(req.body.code) ?? DEFAULT_USER;
  Object.assign(token.payload, {
    sub: user.sub,
    email: user.email,
    email_verified: user.email_verified,
    preferred_username: user.preferred_username,
    name: 'OIDC Test User',
    picture: 'https://example.com/oidc-user.png',
  });
  const now = Math.floor(Date.now() / 1000);
  if (user.flaw === 'audience') {
    token.payload.aud = 'someone-else';
  } else if (user.flaw === 'issuer') {
    token.payload.iss = 'http://issuer.invalid';
  } else if (user.flaw === 'expired') {
    token.payload.iat = now - 7200;
    token.payload.exp = now - 3600;
  }
});

// The code is single-use: forget its user once both tokens are built.
server.service.on('beforeResponse', (response, req) => {
  if (req.body?.grant_type === 'authorization_code') {
    const user = usersByCode.get(req.body.code);
    if (user?.flaw === 'unavailable') {
      response.statusCode = 503;
      response.body = { error: 'temporarily_unavailable' };
    }
    if (user?.flaw === 'signature' && typeof response.body?.id_token === 'string') {
      // Another signature of the right length: the last segment reversed.
      const [header, payload, signature] = response.body.id_token.split('.');
      response.body.id_token = [header, payload, [...signature].reverse().join('')].join('.');
    }
    usersByCode.delete(req.body.code);
  }
});

const listenPort = port();
// The mock would name itself http://localhost:<port>; clients must use the issuer
// verbatim (OpenID Connect compares it as a string), so name the address it listens on.
if (listenPort !== 0) {
  server.issuer.url = `http://${HOST}:${listenPort}`;
}
await server.start(listenPort, HOST);
console.log(`oidc-mock: issuer ${server.issuer.url}`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    await server.stop();
    process.exit(0);
  });
}
