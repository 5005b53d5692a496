// Closed-loop anonymous buyers for bench/flash_sale.py: each buyer holds one ticket with a
// fresh cart token, then checks it out with the manual payment provider, and starts over.
// Node's event loop keeps the load generator cheap next to the servers it measures.
//
//   node bench/flash_sale_client.mjs '{"urls": ["http://127.0.0.1:8100"], "event_id": "...",
//     "ticket_type_id": "...", "concurrency": 64, "seconds": 10, "until_sold_out": false}'
//
// Before the clock starts, every buyer's connection is opened (one GET /health/live each,
// all at once): in production the API sits behind a proxy whose keep-alive connections
// to it are already open, so buyers arriving do not each make the API accept a new TCP
// connection. A request that still goes out on a new connection (the server closed an
// idle one) is counted apart: its shed answers get their own percentiles.
//
// A shed answer (429/503) is what a well-behaved client gets under overload: the buyer
// waits the Retry-After it was given and asks again (the same step: a buyer whose
// checkout was shed keeps the hold). Step latencies count admitted answers only; shed
// answers get their own percentiles (they must come at once).
//
// Prints one JSON line: buyers completed, latency percentiles (ms) of hold, checkout, the
// whole buyer (waits included) and shed answers, statuses by step, shed answers and
// whether they carried Retry-After, and transport errors.
import http from "node:http";
import { randomUUID } from "node:crypto";

const config = JSON.parse(process.argv[2]);
const targets = config.urls.map((url) => new URL(url));
const agent = new http.Agent({ keepAlive: true, maxSockets: config.concurrency });
const statuses = { hold: {}, checkout: {} };
const shed = { with_retry_after: 0, without_retry_after: 0 };
const errors = {};
const latencies = { hold: [], checkout: [], buyer: [], shed: [], shed_new_connection: [] };
let next = 0;
let soldOut = false;
let keepAliveRetries = 0;

function post(path, body) {
  const target = targets[next++ % targets.length];
  const payload = JSON.stringify(body);
  return new Promise((resolve) => {
    const started = performance.now();
    const request = http.request(
      {
        host: target.hostname,
        port: target.port,
        path,
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            newConnection: !request.reusedSocket,
            status: response.statusCode,
            retryAfter: response.headers["retry-after"],
            body: Buffer.concat(chunks).toString(),
            ms: performance.now() - started,
          }),
        );
      },
    );
    request.setTimeout(60000, () => request.destroy(new Error("timeout")));
    request.on("error", (error) => {
      // The server closed an idle keep-alive connection (uvicorn: after 5 s) just as this
      // request went out on it: it never reached the application, so send it again.
      if (request.reusedSocket && error.code === "ECONNRESET") {
        keepAliveRetries += 1;
        resolve(post(path, body));
        return;
      }
      resolve({ status: error.code || error.message, ms: performance.now() - started });
    });
    request.end(payload);
  });
}

function isShed(answer) {
  return answer.status === 429 || answer.status === 503;
}

function record(step, answer) {
  statuses[step][answer.status] = (statuses[step][answer.status] || 0) + 1;
  if (typeof answer.status !== "number") errors[answer.status] = (errors[answer.status] || 0) + 1;
  if (isShed(answer)) {
    shed[answer.retryAfter !== undefined ? "with_retry_after" : "without_retry_after"] += 1;
    latencies[answer.newConnection ? "shed_new_connection" : "shed"].push(answer.ms);
  } else {
    latencies[step].push(answer.ms);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One step, asked again after each shed answer's Retry-After while time is left.
async function step(name, path, body, deadline) {
  for (;;) {
    const answer = await post(path, body);
    record(name, answer);
    if (!isShed(answer) || performance.now() >= deadline) return answer;
    await sleep(1000 * Number(answer.retryAfter || 1));
  }
}

async function buyer(deadline) {
  let completed = 0;
  while (performance.now() < deadline && !soldOut) {
    const cart = randomUUID().replaceAll("-", "");
    const started = performance.now();
    const hold = await step(
      "hold",
      `/api/v1/events/${config.event_id}/holds`,
      { ticket_type_id: config.ticket_type_id, quantity: 1, cart_token: cart },
      deadline,
    );
    if (hold.status !== 201) {
      if (hold.status === 409 && config.until_sold_out && hold.body.includes("sold-out")) soldOut = true;
      continue;
    }
    const checkout = await step(
      "checkout",
      `/api/v1/events/${config.event_id}/checkout`,
      {
        cart_token: cart,
        buyer: { name: "Flash Buyer", email: `buyer-${cart.slice(0, 16)}@example.com` },
        payment_provider: "manual",
      },
      deadline + 30000, // a buyer who holds a ticket finishes, even after the window
    );
    if (checkout.status === 201) {
      latencies.buyer.push(performance.now() - started);
      completed += 1;
    }
  }
  return completed;
}

function percentiles(values) {
  const sorted = Float64Array.from(values).sort();
  const at = (share) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] : null);
  return { count: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

function open(target) {
  return new Promise((resolve) => {
    const request = http.get({ host: target.hostname, port: target.port, path: "/health/live", agent }, (response) => {
      response.resume();
      response.on("end", resolve);
    });
    request.on("error", resolve);
  });
}

await Promise.all(Array.from({ length: config.concurrency }, (_, index) => open(targets[index % targets.length])));

const started = performance.now();
const done = await Promise.all(
  Array.from({ length: config.concurrency }, () => buyer(started + config.seconds * 1000)),
);
const elapsed = (performance.now() - started) / 1000;
agent.destroy();
console.log(
  JSON.stringify({
    buyers: done.reduce((a, b) => a + b, 0),
    elapsed_s: elapsed,
    sold_out: soldOut,
    latency_ms: {
      hold: percentiles(latencies.hold),
      checkout: percentiles(latencies.checkout),
      buyer: percentiles(latencies.buyer),
      shed: percentiles(latencies.shed),
      shed_new_connection: percentiles(latencies.shed_new_connection),
    },
    statuses,
    shed,
    errors,
    keep_alive_retries: keepAliveRetries,
  }),
);
