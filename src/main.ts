#!/usr/bin/env node
/**
 * CLI entry: `osprey [tritonserver flags]`. Parses and validates flags once,
 * starts the server, and shuts it down cleanly on SIGINT/SIGTERM: not ready for
 * --shutdown-grace-secs while still serving, then drain, giving up after
 * --exit-timeout-secs.
 */
import { CliError, parseArgs, usageText } from './config/cli.js';
import { RestrictionFlagError } from './config/restricted.js';
import { StartupError } from './errors/startup.js';
import { BUNDLED_REPOSITORY, PACKAGE_VERSION, startServer } from './server.js';

async function main(): Promise<void> {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`osprey: ${err.message}\nRun 'osprey --help' for the list of options.\n`);
      process.exit(2);
    }
    if (err instanceof RestrictionFlagError) {
      // tritonserver prints the usage after a bad restriction flag and exits 1.
      process.stderr.write(`${err.message}\n${usageText()}`);
      process.exit(1);
    }
    throw err;
  }
  if (opts.help) {
    process.stdout.write(usageText());
    return;
  }
  if (opts.version) {
    process.stdout.write(`osprey ${PACKAGE_VERSION}\n`);
    return;
  }
  if (opts.modelRepositories.length === 0) opts = Object.freeze({ ...opts, modelRepositories: [BUNDLED_REPOSITORY] });
  const server = await startServer(opts);
  // Two phases, so a rolling update loses nothing: first (--shutdown-grace-secs) report
  // not ready but keep serving while the load balancer drops this endpoint, then stop
  // accepting and let in-flight requests finish within --exit-timeout-secs. A second
  // signal during the grace period skips what is left of it.
  let phase: 'serving' | 'grace' | 'stopping' = 'serving';
  let graceTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (phase === 'stopping') return;
    phase = 'stopping';
    clearTimeout(graceTimer);
    server.logger.info({ exitTimeoutSecs: opts.exitTimeoutSecs }, 'shutting down');
    const force = setTimeout(() => {
      server.logger.error('exit timeout reached with requests still in flight; exiting');
      process.exit(1);
    }, opts.exitTimeoutSecs * 1000);
    force.unref();
    server.shutdown().then(() => process.exit(0), (err) => {
      server.logger.error({ err }, 'error during shutdown');
      process.exit(1);
    });
  };
  const onSignal = (signal: string) => {
    if (phase !== 'serving' || opts.shutdownGraceSecs === 0) {
      if (phase === 'serving') server.logger.info({ signal }, 'signal received');
      stop();
      return;
    }
    phase = 'grace';
    server.drain();
    server.logger.info({ signal, shutdownGraceSecs: opts.shutdownGraceSecs }, 'not ready; serving through the shutdown grace period');
    graceTimer = setTimeout(stop, opts.shutdownGraceSecs * 1000);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}

main().catch((err) => {
  // An operator's mistake is one line; anything else is a bug and keeps its stack.
  const text = err instanceof StartupError ? err.message : err instanceof Error ? err.stack ?? err.message : String(err);
  process.stderr.write(`osprey: failed to start: ${text}\n`);
  process.exit(1);
});
