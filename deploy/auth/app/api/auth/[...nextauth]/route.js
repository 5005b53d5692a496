// NextAuth's endpoints under /api/auth/ (Traefik sends that prefix here, the rest of /api/
// to the API): sign-in and sign-out pages, OAuth callbacks, session, CSRF, providers.
import NextAuth from "next-auth";

import { authOptions } from "../../../../lib/auth-options.js";

const handler = NextAuth(authOptions);

export { handler as GET, handler as POST };
