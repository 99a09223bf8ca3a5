/**
 * A reason the server cannot start that the operator can fix (a missing model
 * repository, an HTTP engine that cannot load). main.ts prints its message as one line
 * and exits 1; anything else that fails at startup is a bug and gets its stack.
 */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}
