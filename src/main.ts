#!/usr/bin/env node
/**
 * CLI entry: `osprey [tritonserver flags]`. Parses and validates flags once,
 * starts the server, and shuts it down cleanly on SIGINT/SIGTERM, giving up after
 * --exit-timeout-secs.
 */
import { CliError, parseArgs, usageText } from './config/cli.js';
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
  let signalled = false;
  const stop = (signal: string) => {
    if (signalled) return;
    signalled = true;
    server.logger.info({ signal, exitTimeoutSecs: opts.exitTimeoutSecs }, 'shutting down');
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
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err) => {
  // An operator's mistake is one line; anything else is a bug and keeps its stack.
  const text = err instanceof StartupError ? err.message : err instanceof Error ? err.stack ?? err.message : String(err);
  process.stderr.write(`osprey: failed to start: ${text}\n`);
  process.exit(1);
});
