/**
 * The package's public API: `import { startServer } from 'osprey'` runs the same
 * server as the `osprey` command, configured in code instead of by flags.
 *
 *   const server = await startServer({ modelRepositories: ['/models'], httpPort: 0 });
 *   // ... server.httpPort, server.grpcPort ...
 *   await server.shutdown();
 */
import type { DestinationStream } from 'pino';
import { CliError, DEFAULT_OPTIONS, type HttpEngineChoice, parseArgs, resolveOptions, type ServerOptions } from './config/cli.js';
import { StartupError } from './errors/startup.js';
import { BUNDLED_REPOSITORY, PACKAGE_VERSION, type RunningServer, startServer as start } from './server.js';

export type { HttpEngineChoice, RunningServer, ServerOptions };
export { BUNDLED_REPOSITORY, CliError, DEFAULT_OPTIONS, PACKAGE_VERSION, parseArgs, StartupError };

/**
 * Start a server: every option not given takes the `osprey` command's default, and
 * without `modelRepositories` it serves the bundled repository. Logs go to stderr as
 * JSON lines unless `logDestination` is given. Rejects with CliError for inconsistent
 * options and StartupError for what the operator can fix (a missing repository, an
 * HTTP engine that cannot load).
 */
export function startServer(options: Partial<ServerOptions> = {}, logDestination?: DestinationStream): Promise<RunningServer> {
  let opts: Readonly<ServerOptions>;
  try {
    opts = resolveOptions(options.modelRepositories?.length ? options : { ...options, modelRepositories: [BUNDLED_REPOSITORY] });
  } catch (err) {
    return Promise.reject(err);
  }
  return start(opts, logDestination);
}
