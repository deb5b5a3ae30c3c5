/**
 * The loopback redirect URIs of the CLI's sign-in (OAuth 2.0 authorization code with PKCE, RFC 8252 "loopback
 * interface redirection"). Amazon Cognito accepts plain http only for `localhost`, and it matches `redirect_uri`
 * exactly against the app client's callback URLs, port included: unlike RFC 8252 section 7.3, it does not let a
 * native app pick any free port. So the Cognito client the stack creates registers these fixed URLs, and the CLI
 * must listen on the port of one of them (the first it can bind, on the loopback interface only) and send that
 * same string, byte for byte, as `redirect_uri` in both the authorization and the token request.
 * `http://localhost/callback` (port 80) is last: it needs the right to bind a privileged port on most systems.
 */
export const CLI_REDIRECT_URIS = [
  'http://localhost:8976/callback',
  'http://localhost:8977/callback',
  'http://localhost:8978/callback',
  'http://localhost/callback',
] as const;
