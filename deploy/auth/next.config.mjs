// A server with route handlers only (app/api/auth/...), built to run alone in the image.
/** @type {import('next').NextConfig} */
const config = {
  output: "standalone",
  poweredByHeader: false,
};

export default config;
