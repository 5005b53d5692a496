// Mint real NextAuth.js / Auth.js session tokens for the Python tests.
//
// Reads one JSON request, or a JSON list of them, from argv[2] or else stdin, and prints
// the token (a JSON string) or the list of tokens (a JSON list), in the same order.
//
//   {"kind": "v4", "secret": "s", "claims": {...}, "maxAge": 3600}
//   {"kind": "v5", "secret": "s" | ["new", "old"], "salt": "authjs.session-token", ...}
//   {"kind": "hs256", "secret": "s", "claims": {...}, "maxAge": 3600, "header": {...}}
//
// v4 and v5 go through the libraries' own `encode`, which set iat, exp (now + maxAge) and
// jti themselves (a negative maxAge gives an expired token). For hs256 (jose's SignJWT),
// claims win over the defaults, so a test can set exp/iat/nbf, and `header` is merged into
// the protected header, so {"alg": "HS512"} signs a genuine HS512 token.
import { readFileSync } from "node:fs";

import { encode as encodeV5 } from "@auth/core/jwt";
import { SignJWT } from "jose";
import { encode as encodeV4 } from "next-auth/jwt";

async function mint({ kind, secret, salt, claims = {}, maxAge, header = {} }) {
  switch (kind) {
    case "v4":
      return encodeV4({ token: claims, secret, maxAge });
    case "v5":
      return encodeV5({ token: claims, secret, salt, maxAge });
    case "hs256": {
      const now = Math.floor(Date.now() / 1000);
      const payload = { iat: now, exp: now + (maxAge ?? 30 * 24 * 60 * 60), ...claims };
      return new SignJWT(payload)
        .setProtectedHeader({ alg: "HS256", ...header })
        .sign(new TextEncoder().encode(secret));
    }
    default:
      throw new Error(`unknown kind: ${JSON.stringify(kind)}`);
  }
}

const input = process.argv[2] ?? readFileSync(0, "utf8");
const request = JSON.parse(input);
const result = Array.isArray(request)
  ? await Promise.all(request.map(mint))
  : await mint(request);
process.stdout.write(`${JSON.stringify(result)}\n`);
