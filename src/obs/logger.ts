/**
 * pino logger plus Triton's logging-extension settings (`/v2/logging`, gRPC
 * LogSettings), which map onto pino's level: verbose > 0 -> debug, info -> info,
 * warning -> warn, error -> error; everything off -> silent. Successful requests
 * are logged only at verbose >= 1, sampled (see `sampleRequest`).
 */
import { pino, type Logger } from 'pino';
import { InvalidArgument } from '../errors/errors.js';
import { type LineFormat, tritonDestination } from './log-format.js';

export type LogSettingValue = boolean | number | string;

export interface LogSettings {
  log_file: string;
  log_info: boolean;
  log_warning: boolean;
  log_error: boolean;
  log_verbose_level: number;
  log_format: string;
}

/** At `log_verbose_level` 1, one request in this many is logged; at 2 and above, all. */
export const REQUEST_LOG_SAMPLE = 100;

export class LogControl {
  readonly logger: Logger;
  #settings: LogSettings;
  /** Log every n-th successful request; 0 = request logging off (the default). */
  #requestEvery: number;
  #requestCount = 0;

  /**
   * `destination` (tests) receives pino's JSON lines whatever the format; without it,
   * lines are written in `log_format`'s layout to `log_file` or the console (log-format.ts).
   */
  constructor(initial: LogSettings, destination?: pino.DestinationStream) {
    this.#settings = { ...initial };
    this.#requestEvery = requestEvery(this.#settings);
    const dest = destination ?? tritonDestination(() => this.#settings.log_format as LineFormat, initial.log_file);
    this.logger = pino({ name: 'osprey', level: levelOf(this.#settings) }, dest);
  }

  /**
   * Request path: whether to log this successful request (sampled request logs).
   * Off unless `--log-verbose` (or log_verbose_level at runtime) is at least 1.
   */
  sampleRequest(): boolean {
    if (this.#requestEvery === 0) return false;
    if (++this.#requestCount < this.#requestEvery) return false;
    this.#requestCount = 0;
    return true;
  }

  get settings(): Readonly<LogSettings> {
    return this.#settings;
  }

  update(changes: Record<string, LogSettingValue>): Readonly<LogSettings> {
    const next = { ...this.#settings };
    for (const [key, value] of Object.entries(changes)) {
      switch (key) {
        case 'log_info': case 'log_warning': case 'log_error':
          if (typeof value !== 'boolean') throw new InvalidArgument(`expect boolean for '${key}'`);
          next[key] = value;
          break;
        case 'log_verbose_level':
          if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new InvalidArgument(`expect unsigned integer for '${key}'`);
          next.log_verbose_level = value;
          break;
        case 'log_format':
          if (value !== 'default' && value !== 'ISO8601' && value !== 'json') throw new InvalidArgument(`invalid argument for log_format, got '${String(value)}'`);
          next.log_format = value;
          break;
        case 'log_file':
          if (typeof value !== 'string') throw new InvalidArgument(`expect string for '${key}'`);
          if (value !== next.log_file) throw new InvalidArgument('changing the log file is not supported; start the server with --log-file');
          break;
        default:
          throw new InvalidArgument(`log setting '${key}' is not supported`);
      }
    }
    this.#settings = next;
    this.#requestEvery = requestEvery(next);
    this.logger.level = levelOf(next);
    return next;
  }
}

function requestEvery(s: LogSettings): number {
  if (s.log_verbose_level <= 0) return 0;
  return s.log_verbose_level === 1 ? REQUEST_LOG_SAMPLE : 1;
}

function levelOf(s: LogSettings): string {
  if (s.log_verbose_level > 0) return 'debug';
  if (s.log_info) return 'info';
  if (s.log_warning) return 'warn';
  if (s.log_error) return 'error';
  return 'silent';
}
