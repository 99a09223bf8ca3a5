import { OspreyError } from '../errors/errors.js';

/**
 * A config file or config JSON that cannot be read as `inference.ModelConfig`.
 * Text-format errors carry the position so a user can jump to it; the message
 * is `<file>:<line>:<col>: <detail>` like protoc and compilers print it.
 * The code is INVALID_ARG because a bad config fails a load call as a client error.
 */
export class ConfigParseError extends OspreyError {
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly col: number | undefined;

  constructor(message: string, file?: string, line?: number, col?: number) {
    super('INVALID_ARG', message);
    this.file = file;
    this.line = line;
    this.col = col;
  }

  /** An error at a position of a text file: `file:line:col: detail`. */
  static at(file: string, line: number, col: number, detail: string): ConfigParseError {
    return new ConfigParseError(`${file}:${line}:${col}: ${detail}`, file, line, col);
  }
}
