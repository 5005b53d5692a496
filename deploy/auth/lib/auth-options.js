// How people sign in to the platform. NextAuth keeps the session in an encrypted JWT
// cookie made with NEXTAUTH_SECRET, which the API decrypts and checks itself (README,
// "Sign-in and access"). The API checks passwords and two-factor codes, and records each
// session: the token carries its `sid`, so revoking the session in the API ends it here.
//
// Environment: NEXTAUTH_URL (the public address), NEXTAUTH_SECRET, TICKETING_SERVICE_KEY,
// TICKETING_API_URL (the API inside the network) and, for single sign-on, OIDC_ISSUER,
// OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and OIDC_NAME.
import CredentialsProvider from "next-auth/providers/credentials";

const API_URL = (process.env.TICKETING_API_URL ?? "http://api:8000").replace(/\/$/, "");
const SESSION_DAYS = Number(process.env.TICKETING_SESSION_DAYS ?? 30);
const API_TIMEOUT_MS = 10_000;

async function callApi(path, { body, headers = {} }) {
  const response = await fetch(`${API_URL}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(API_TIMEOUT_MS),
  });
  const answer = response.status === 204 ? {} : await response.json().catch(() => ({}));
  return { ok: response.ok, answer };
}

// The browser's address as Traefik saw it: the API's per-client sign-in limits then count
// the person signing in, not this server (the API trusts this network's forwarding).
function forwardedFor(req) {
  const headers = req?.headers ?? {};
  const value =
    typeof headers.get === "function" ? headers.get("x-forwarded-for") : headers["x-forwarded-for"];
  return value ? { "X-Forwarded-For": value } : {};
}

// Email and password, checked by the API (lockout, per-client limits and two-factor
// included); a `code` field answers the two-factor challenge when the account has one.
const credentials = CredentialsProvider({
  name: "Email and password",
  credentials: {
    email: { label: "Email", type: "email" },
    password: { label: "Password", type: "password" },
    code: { label: "Two-factor code (if enabled)", type: "text" },
  },
  async authorize(submitted, req) {
    const via = forwardedFor(req);
    let signIn = await callApi("/api/v1/auth/credentials", {
      body: { email: submitted?.email, password: submitted?.password },
      headers: via,
    });
    if (!signIn.ok) return null;
    if (signIn.answer.status === "two_factor_required") {
      if (!submitted?.code) throw new Error("TwoFactorRequired");
      signIn = await callApi("/api/v1/auth/two-factor", {
        body: { challenge_id: signIn.answer.challenge_id, code: submitted.code },
        headers: via,
      });
      if (!signIn.ok) return null;
    }
    // That API session only proved the password: the browser's session is the one the
    // jwt callback registers, so this one is closed at once rather than left to expire.
    await callApi("/api/v1/auth/sign-out", {
      headers: { ...via, Authorization: `Bearer ${signIn.answer.access_token}` },
    });
    const { id, email, name, image } = signIn.answer.user;
    return { id, email, name, image };
  },
});

function singleSignOn() {
  const issuer = process.env.OIDC_ISSUER?.replace(/\/$/, "");
  if (!issuer) return [];
  return [
    {
      id: "oidc",
      name: process.env.OIDC_NAME || "Single sign-on",
      type: "oauth",
      wellKnown: `${issuer}/.well-known/openid-configuration`,
      authorization: { params: { scope: "openid email profile" } },
      idToken: true,
      checks: ["pkce", "state"],
      clientId: process.env.OIDC_CLIENT_ID,
      clientSecret: process.env.OIDC_CLIENT_SECRET,
      profile(claims) {
        return {
          id: claims.sub,
          email: claims.email,
          name: claims.name ?? claims.preferred_username ?? null,
          image: claims.picture ?? null,
        };
      },
    },
  ];
}

export const authOptions = {
  secret: process.env.NEXTAUTH_SECRET,
  session: { strategy: "jwt", maxAge: SESSION_DAYS * 24 * 60 * 60 },
  providers: [credentials, ...singleSignOn()],
  callbacks: {
    // An identity provider's address is trusted only when it says it verified it: the
    // platform links accounts by email.
    async signIn({ account, profile }) {
      if (account?.type === "oauth") return profile?.email_verified === true;
      return true;
    },
    // At sign-in: the API creates or updates the user and starts the session this token
    // belongs to; its id goes in the token as `sid`.
    async jwt({ token, user, account, profile }) {
      if (!user || !account) return token;
      const external = account.type === "oauth";
      const synced = await callApi("/api/v1/auth/sync", {
        headers: { "X-Service-Key": process.env.TICKETING_SERVICE_KEY },
        body: {
          email: user.email,
          name: user.name ?? null,
          image: user.image ?? null,
          email_verified: external && profile?.email_verified === true,
          provider: external ? account.provider : null,
          provider_account_id: external ? account.providerAccountId : null,
          type: account.type,
        },
      });
      if (!synced.ok) throw new Error("the platform refused this sign-in");
      token.sid = synced.answer.sid;
      token.uid = synced.answer.user.id;
      return token;
    },
    async session({ session, token }) {
      if (session.user) session.user.id = token.uid;
      return session;
    },
  },
};
