/**
 * Server keepalive pings on one HTTP/2 connection, as grpc-js 1.14's server sends
 * them (server.js, _sessionHandler): every `timeMs` a PING; a connection whose PING is
 * not answered within `timeoutMs` (or cannot be sent) is destroyed. grpc-js sends them
 * whether or not calls are in flight (its server reads no permit-without-calls option),
 * and only for intervals below 2^31-1 ms.
 */
/** What keepalive needs of a connection: node:http2's session, or the net engine's connection. */
export interface PingableSession {
  readonly destroyed: boolean;
  ping(cb: (err: Error | null) => void): boolean;
  destroy(): void;
  on(event: 'close', listener: () => void): unknown;
}

const KEEPALIVE_MAX_TIME_MS = ~(1 << 31);

export interface Keepalive { timeMs: number; timeoutMs: number }

export function keepConnectionAlive(session: PingableSession, k: Keepalive): void {
  if (!(k.timeMs > 0 && k.timeMs < KEEPALIVE_MAX_TIME_MS)) return;
  let timer: NodeJS.Timeout | undefined;
  const clear = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  const schedule = (): void => {
    if (session.destroyed) return;
    timer = setTimeout(ping, k.timeMs);
    timer.unref();
  };
  const ping = (): void => {
    timer = undefined;
    if (session.destroyed) return;
    let sent = false;
    try {
      sent = session.ping((err) => {
        clear();
        if (err) session.destroy();
        else schedule();
      });
    } catch {
      sent = false;
    }
    if (!sent) { session.destroy(); return; }
    timer = setTimeout(() => {
      timer = undefined;
      session.destroy();
    }, k.timeoutMs);
    timer.unref();
  };
  schedule();
  session.on('close', clear);
}
