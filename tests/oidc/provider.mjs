// A real OpenID Connect provider for the browser sign-in tests: panva's oidc-provider
// (OpenID Certified), with its built-in development login and consent pages.
//
//   node tests/oidc/provider.mjs   (install first: npm ci --prefix tests/oidc)
//
// Environment: OIDC_PORT (required), OIDC_ISSUER (default http://localhost:$OIDC_PORT),
// OIDC_REDIRECT_URI (the service's callback, required), OIDC_CLIENT_ID, OIDC_CLIENT_SECRET.
// Prints one line "listening <issuer>" when it accepts connections. Test use only: the
// signing keys are generated at start and the dev interactions accept any password.
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
if (!port) {
  console.error('OIDC_PORT is required');
  process.exit(2);
}
const issuer = process.env.OIDC_ISSUER || `http://localhost:${port}`;
const redirectUri = process.env.OIDC_REDIRECT_URI;
if (!redirectUri) {
  console.error('OIDC_REDIRECT_URI is required');
  process.exit(2);
}

// The test users: login name -> claims. `roles` is the claim the service maps to its roles.
const ACCOUNTS = {
  alice: { email: 'alice@example.org', email_verified: true, name: 'Alice Analyst',
           roles: ['sponsorwatch-analyst'] },
  ada: { email: 'ada@example.org', email_verified: true, name: 'Ada Admin',
         roles: ['staff', 'sponsorwatch-admin'] },
  mallory: { email: 'mallory@example.org', email_verified: true, name: 'Mallory',
             roles: ['staff'] },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.OIDC_CLIENT_ID || 'sponsorwatch',
    client_secret: process.env.OIDC_CLIENT_SECRET || 'test-only-client-secret',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  // Authorization code with PKCE for every client, confidential ones included.
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'roles'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    roles: ['roles'],
  },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['sponsorwatch-test-only-cookie-key'] },
  async findAccount(_ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...account };
      },
    };
  },
});

// The dev interactions print the stack of an unknown login; say it plainly instead.
provider.on('server_error', (_ctx, err) => console.error('server_error', err.message));

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
