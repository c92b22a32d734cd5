#!/usr/bin/env node
// Runs graphql-http's GraphQL-over-HTTP server audit suite against a running Trellis server.
//
//   node tests/audit/audit.mjs <graphql-url> [bearer-token]
//   TRELLIS_AUDIT_URL=... TRELLIS_AUDIT_TOKEN=... node tests/audit/audit.mjs
//
// Every request the suite makes carries `Authorization: Bearer <token>`, because Trellis
// answers unauthenticated GraphQL requests with 401 and the suite would then measure the
// auth layer instead of the transport.
//
// graphql-http reports each audit as 'ok' or, when it fails, with a status that follows the
// RFC 2119 level in the audit's name: 'error' (MUST), 'warn' (SHOULD), 'notice' (MAY).
// MUST and SHOULD audits gate: any failure exits 1. MAY failures are listed as notices only.
// The last line is always `audit: N passed, M failed` over the MUST and SHOULD audits.

import { serverAudits } from 'graphql-http';

const REQUEST_TIMEOUT_MS = 30_000;

function usage(message) {
  console.error(`audit: ${message}`);
  console.error('usage: node tests/audit/audit.mjs <graphql-url> [bearer-token]');
  console.error('   or: TRELLIS_AUDIT_URL=<graphql-url> TRELLIS_AUDIT_TOKEN=<token> node tests/audit/audit.mjs');
  process.exit(2);
}

const url = process.argv[2] ?? process.env.TRELLIS_AUDIT_URL;
const token = process.argv[3] ?? process.env.TRELLIS_AUDIT_TOKEN;
if (!url) usage('no GraphQL URL given');
try {
  new URL(url);
} catch {
  usage(`not a URL: ${url}`);
}
if (!token) {
  console.error('audit: WARNING: no bearer token given; requests are sent unauthenticated');
}

/** global fetch plus the bearer token and a per-request timeout. */
function authedFetch(input, init = {}) {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  const signal = init.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  return fetch(input, { ...init, headers, signal });
}

function levelOf(name) {
  return name.split(' ', 1)[0]; // 'MUST' | 'SHOULD' | 'MAY'
}

function oneLine(text) {
  return String(text).replace(/\s+/g, ' ').trim();
}

const audits = serverAudits({ url, fetchFn: authedFetch });

// The audit functions only throw on fatal errors (e.g. the server is unreachable). Contain
// those per audit, so one broken request is reported against its audit instead of hiding
// every other result.
const results = await Promise.all(
  audits.map(async ({ id, name, fn }) => {
    try {
      return await fn();
    } catch (err) {
      const status = { MUST: 'error', SHOULD: 'warn', MAY: 'notice' }[levelOf(name)] ?? 'error';
      return { id, name, status, reason: `fatal: ${oneLine(err?.cause?.message ?? err?.message ?? err)}` };
    }
  }),
);

let passed = 0;
let failed = 0;
let mayOk = 0;
const notices = [];
for (const result of results) {
  const level = levelOf(result.name);
  const gating = level === 'MUST' || level === 'SHOULD';
  const ok = result.status === 'ok';
  let mark;
  if (ok) {
    mark = 'ok';
    if (gating) passed += 1;
    else mayOk += 1;
  } else if (gating) {
    mark = 'FAIL';
    failed += 1;
  } else {
    mark = 'notice';
    notices.push(result);
  }
  const reason = ok ? '' : ` -- ${oneLine(result.reason)}`;
  console.log(`${mark.padEnd(6)} ${level.padEnd(6)} ${result.id} ${result.name}${reason}`);
}

const mayTotal = mayOk + notices.length;
console.log(
  `audit: MAY audits (informational): ${mayOk} of ${mayTotal} met` +
    (notices.length ? `; not met: ${notices.map((n) => n.id).join(', ')}` : ''),
);
console.log(`audit: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
