/** The whole help text: every command and option in one screen. */
export const USAGE = `Usage: gatehouse <command> [options]

Every command reads the same configuration as the server (environment, GATEHOUSE_CONFIG) and applies
pending migrations first. The embedded store can be used by one process at a time: stop \`npm start\`
first, or use DATABASE_URL.

Commands:
  migrate                         Apply pending database migrations and list what ran.

  client add --id ID [options]    Register an OAuth client.
      --id ID                     1-128 characters of A-Z a-z 0-9 . _ : -
      --secret S                  Client secret (at least 32 characters); generated and printed once if omitted.
      --redirect-uri URI          Redirect URI, matched exactly (repeatable; needed for authorization_code).
      --post-logout-redirect-uri URI
                                  Where RP-initiated logout may return (repeatable).
      --backchannel-logout-uri URI
                                  Where a signed logout token is POSTed when the session ends.
      --first-party               Skip the consent page (only for apps you operate yourself).
      --mfa-required              Every sign-in to this app needs a second factor; accounts without
                                  one set up an authenticator app during sign-in.
      --logo-uri, --client-uri, --policy-uri, --tos-uri URI
                                  Logo and links shown on the consent page (https).
      --grant-types a,b           authorization_code, refresh_token, client_credentials
                                  (default: authorization_code,refresh_token).
      --auth-method M             client_secret_basic (default), client_secret_post, or none.
      --scope "S"                 Allowed scopes (default: "openid email profile", plus offline_access
                                  when refresh_token is granted).
      --public                    No secret (browser or native app); auth method none.
      --native                    A native app (RFC 8252): http://127.0.0.1 redirects may use any port.
                                  Implied by a custom-scheme redirect URI such as com.example.app:/cb.
      --name NAME                 Display name shown on the consent page.
      --api URI                   An API (see \`api add\`) the client may ask for with the resource
                                  parameter (repeatable). A client_credentials client gets the API's
                                  scopes that its --scope names.
      --introspects URI           The client is the resource server of this API (repeatable): besides
                                  its own tokens, it may introspect access tokens issued for the API.
                                  Other clients' tokens get {"active": false}.
      --json                      Print the client as JSON.
  client list [--json]            List clients (secrets are never shown).
  client show ID [--json]         Show one client (secrets are never shown).
  client remove ID                Delete a client.
  client rotate-secret ID [--overlap SECONDS] [--json]
                                  Give a confidential client a new generated secret (shown once); the old
                                  one is still accepted for SECONDS (default 86400, 0: stops at once).

  api add --id URI --name N --scope S [options]
                                  Register an API (resource server). Clients ask for it with
                                  resource=URI and get access tokens whose aud is URI.
      --id URI                    Absolute https URI without query or fragment (http on loopback only).
      --name N                    Display name.
      --scope "S [description]"   A scope the API defines, then what it lets an app do in plain words
                                  (shown on the consent page), e.g. --scope "posts:read Read your posts"
                                  (repeatable; at least one).
      --format jwt|opaque         Access-token format (default jwt: RFC 9068, verifiable from /jwks).
      --ttl SECONDS               Access-token lifetime, 60-86400 (default ACCESS_TOKEN_TTL, at most 86400).
      --no-rbac                   Users' tokens get the scopes they ask for whatever their permissions
                                  (by default only the scopes their roles' permissions name).
      --json                      Print the API as JSON.
  api update --id URI [options]   Change an API; options not given stay as they are.
      --name N, --format jwt|opaque, --ttl SECONDS
                                  As for api add.
      --scope "S [description]"   Replaces the whole scope list (repeatable). A scope taken off is also
                                  taken out of the scopes of clients allowed the API.
      --rbac | --no-rbac          Turn the permission check of users' tokens on or off.
      --json                      Print the API as JSON.
                                  Running servers use the change within 30 seconds (their API cache);
                                  tokens already issued keep what they carry until they expire.
  api list [--json]               List APIs.
  api show URI [--json]           Show one API and its scopes.
  api remove URI                  Delete an API and take it off every client that was allowed it; tokens
                                  already issued stay valid until they expire.

  role add NAME [options]         Create a role (global, or one client's own with --client).
      --permission P              A permission the role carries, e.g. posts:delete (repeatable). For an
                                  API with RBAC on, a user's tokens get only the API scopes their
                                  permissions name.
      --client ID                 The role belongs to this client: only it sees the role.
      --description D             What the role is for.
      --json                      Print the role as JSON.
  role list [--client ID] [--json]
                                  List roles (with --client: the global ones and that client's).
  role show NAME [--client ID] [--json]
                                  Show one role and its permissions.
  role remove NAME [--client ID]  Delete a role and take it from every user; the built-in gatehouse:admin
                                  role cannot be removed.

  user add --email E [options]    Create an account.
      --name N                    Display name.
      --password-stdin            Read the password from stdin (at least 8 characters); without it the
                                  account has no password.
      --email-verified            Mark the email address as verified.
      --json                      Print the account as JSON.
  user list [--json]              List accounts.
  user show --email E [--json]    Show an account and every role it holds.
  user grant --email E --role NAME [--client ID]
                                  Give an account a role (--client: that client's own role).
  user revoke --email E --role NAME [--client ID]
                                  Take a role from an account; its next token refresh or userinfo call
                                  no longer carries it.
  user disable --email E          Disable an account; it can no longer sign in.
  user unlock --email E           Lift the lock that 100 consecutive wrong passwords put on an account's
                                  password sign-in (a password reset lifts it too).
  user sessions revoke --email E  End the account's sessions, grants and refresh tokens everywhere.

  sessions revoke-all             Sign everyone out: every session, grant, code and token issued until
                                  now is refused (after restoring Redis from a backup; see README).

  keys list [--json]              List signing keys (kid, alg, status, activates_at, remove_after).
  keys rotate                     Publish a new key per algorithm; it signs after KEY_ACTIVATION_DELAY_SECONDS.
  keys reencrypt [--batch-size N] Re-encrypt every stored secret (TOTP seeds, private signing keys) under the
                                  first KEY_ENCRYPTION_KEY, N rows per transaction (default 500); idempotent.

  audit list [filters] [--json]   Audit events, oldest first: time, type, outcome, account, client, IP, details.
      --account EMAIL_OR_ID       Events of one account (an id also finds those of a deleted account).
      --type T                    One event type, e.g. sign_in, mfa_verify, admin_user_created.
      --since WHEN                An ISO date or time (2026-11-29, 2026-11-29T10:00Z) or a duration
                                  back from now: 90s, 15m, 24h, 7d, 2w.
      --limit N                   At most the newest N events (default 50, at most 10000).
      --json                      Print the events as a JSON array.
  audit tail [filters] [--json]   Print the newest events (default 10), then new ones as they happen,
                                  until Ctrl-C. --json prints one JSON object per line. On the embedded
                                  store it holds the store, so use it with DATABASE_URL beside a server.
      --interval DURATION         How often to look for new events (default 2s).
      --for DURATION              Stop after this long.

  help, --help, -h                Show this text.

Exit codes: 0 success, 1 failure (configuration, store in use, not found, already exists), 2 usage error.
`;
