/**
 * pino logger plus Triton's logging-extension settings (`/v2/logging`, gRPC
 * LogSettings), which map onto pino's level: verbose > 0 -> debug, info -> info,
 * warning -> warn, error -> error; everything off -> silent.
 */
import { pino, type Logger } from 'pino';
import { InvalidArgument } from '../errors/errors.js';

export type LogSettingValue = boolean | number | string;

export interface LogSettings {
  log_file: string;
  log_info: boolean;
  log_warning: boolean;
  log_error: boolean;
  log_verbose_level: number;
  log_format: string;
}

export class LogControl {
  readonly logger: Logger;
  #settings: LogSettings;

  constructor(initial: LogSettings, destination?: pino.DestinationStream) {
    this.#settings = { ...initial };
    this.logger = pino({ name: 'osprey', level: levelOf(this.#settings) }, destination ?? pino.destination({ dest: 2, sync: false }));
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
          if (value !== 'default' && value !== 'ISO8601') throw new InvalidArgument(`invalid argument for log_format, got '${String(value)}'`);
          next.log_format = value;
          break;
        case 'log_file':
          if (typeof value !== 'string') throw new InvalidArgument(`expect string for '${key}'`);
          if (value !== '') throw new InvalidArgument('changing the log file is not supported; logs go to stderr');
          break;
        default:
          throw new InvalidArgument(`log setting '${key}' is not supported`);
      }
    }
    this.#settings = next;
    this.logger.level = levelOf(next);
    return next;
  }
}

function levelOf(s: LogSettings): string {
  if (s.log_verbose_level > 0) return 'debug';
  if (s.log_info) return 'info';
  if (s.log_warning) return 'warn';
  if (s.log_error) return 'error';
  return 'silent';
}
