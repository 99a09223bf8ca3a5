#!/usr/bin/env node
/**
 * Container HEALTHCHECK probe: `node dist/src/healthcheck.js [ready|live]`. The images
 * carry no curl or wget, so Docker runs this instead. Exit 0 when the v2 health route
 * answers 200, 1 otherwise (not ready: Triton answers 400; refused; timed out).
 *
 * Environment: OSPREY_HTTP_PORT (default 8000), or OSPREY_HEALTH_URL for the whole URL
 * (a different address or route); OSPREY_HEALTH_TIMEOUT_MS (default 2000). Imports
 * nothing from the server: it runs in a fresh process every interval.
 */
const which = process.argv[2] ?? 'ready';
if (which !== 'ready' && which !== 'live') {
  process.stderr.write(`healthcheck: expected 'ready' or 'live', got '${which}'\n`);
  process.exit(2);
}
const url = process.env.OSPREY_HEALTH_URL ?? `http://127.0.0.1:${process.env.OSPREY_HTTP_PORT ?? '8000'}/v2/health/${which}`;
const timeoutMs = Number(process.env.OSPREY_HEALTH_TIMEOUT_MS ?? 2000);

try {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  await res.arrayBuffer();
  if (res.status !== 200) {
    process.stderr.write(`healthcheck: ${url} answered ${res.status}\n`);
    process.exit(1);
  }
} catch (err) {
  process.stderr.write(`healthcheck: ${url}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
