/**
 * A minimal HTTP/1.1 keep-alive client over raw sockets: each request is one
 * prebuilt Buffer (request line, headers and body) written in a single call, and a
 * response is parsed only far enough to know its status and where it ends. This is
 * several times cheaper per request than node:http's client, which matters when the
 * generator shares two cores with the server it measures.
 * One request in flight per connection (no pipelining, like perf_analyzer); the pool
 * opens connections on demand up to `maxConnections` and queues beyond that, so in
 * open loop a slow server shows up as latency counted from the scheduled time.
 */
import net from 'node:net';

export type Done = (err: string | null) => void;

const CRLFCRLF = Buffer.from('\r\n\r\n');

class Conn {
  socket: net.Socket;
  busy = false;
  dead = false;
  #done: Done | null = null;
  #buf: Buffer | null = null;
  #headerEnd = -1;
  #status = 0;
  #length = -1; // Content-Length, or -1
  #chunked = false;
  #close = false;
  #chunkPos = 0; // chunked: where the next chunk-size line starts

  constructor(port: number, host: string, private readonly pool: HttpClient) {
    this.socket = net.connect({ port, host, noDelay: true });
    this.socket.on('data', (c: Buffer) => this.#onData(c));
    this.socket.on('error', (e: NodeJS.ErrnoException) => this.#fail(`net:${e.code ?? 'ERROR'}`));
    this.socket.on('close', () => this.#fail('net:CLOSED'));
  }

  send(req: Buffer, done: Done): void {
    this.busy = true;
    this.#done = done;
    this.socket.write(req);
  }

  #fail(key: string): void {
    this.dead = true;
    const done = this.#done;
    this.#reset();
    this.#done = null;
    this.busy = false;
    this.socket.destroy();
    this.pool.release(this);
    if (done) done(key);
  }

  #reset(): void {
    this.#buf = null;
    this.#headerEnd = -1;
    this.#length = -1;
    this.#chunked = false;
    this.#close = false;
  }

  #onData(chunk: Buffer): void {
    if (!this.#done) return this.#fail('net:UNEXPECTED_DATA');
    this.#buf = this.#buf === null ? chunk : Buffer.concat([this.#buf, chunk]);
    const buf = this.#buf;
    if (this.#headerEnd < 0) {
      const end = buf.indexOf(CRLFCRLF);
      if (end < 0) return;
      this.#headerEnd = end + 4;
      const head = buf.toString('latin1', 0, end).toLowerCase();
      this.#status = Number(head.slice(9, 12));
      const cl = head.indexOf('\r\ncontent-length:');
      if (cl >= 0) this.#length = parseInt(head.slice(cl + 17, head.indexOf('\r\n', cl + 2) >>> 0), 10);
      this.#chunked = /\r\ntransfer-encoding:[^\r]*chunked/.test(head);
      this.#close = /\r\nconnection:\s*close/.test(head);
      this.#chunkPos = this.#headerEnd;
      if (!this.#chunked && this.#length < 0) this.#length = 0; // bodiless (204/304) or unsupported
    }
    if (this.#chunked) {
      if (!this.#chunkedComplete(buf)) return;
    } else if (buf.length < this.#headerEnd + this.#length) {
      return;
    }
    const status = this.#status;
    const close = this.#close;
    const done = this.#done;
    this.#reset();
    this.#done = null;
    this.busy = false;
    if (close) {
      this.dead = true;
      this.socket.destroy();
    }
    this.pool.release(this);
    done(status >= 200 && status < 300 ? null : `http:${status}`);
  }

  /** Walk chunk headers from where we stopped; true once the terminating chunk is in. */
  #chunkedComplete(buf: Buffer): boolean {
    for (;;) {
      const eol = buf.indexOf('\r\n', this.#chunkPos);
      if (eol < 0) return false;
      const size = parseInt(buf.toString('latin1', this.#chunkPos, eol), 16);
      if (size === 0) return buf.indexOf(CRLFCRLF, eol) >= 0; // last chunk, then optional trailers
      const next = eol + 2 + size + 2;
      if (buf.length < next) return false;
      this.#chunkPos = next;
    }
  }
}

export class HttpClient {
  readonly #host: string;
  readonly #port: number;
  readonly #max: number;
  readonly #idle: Conn[] = [];
  readonly #all = new Set<Conn>();
  // FIFO of requests waiting for a connection (open loop past maxConnections).
  #queue: { req: Buffer; done: Done }[] = [];
  #qHead = 0;
  inFlight = 0;

  constructor(hostPort: string, maxConnections: number) {
    const i = hostPort.lastIndexOf(':');
    this.#host = hostPort.slice(0, i) || '127.0.0.1';
    this.#port = Number(hostPort.slice(i + 1));
    this.#max = Math.max(1, maxConnections);
  }

  get connections(): number {
    return this.#all.size;
  }

  /** Send one prebuilt request (see buildHttpRequest); `done` gets null for 2xx, else an error key. */
  send(req: Buffer, done: Done): void {
    this.inFlight++;
    const wrapped: Done = (err) => {
      this.inFlight--;
      done(err);
    };
    const conn = this.#take();
    if (conn) conn.send(req, wrapped);
    else this.#queue.push({ req, done: wrapped });
  }

  #take(): Conn | null {
    while (this.#idle.length > 0) {
      const c = this.#idle.pop()!;
      if (!c.dead) return c;
    }
    if (this.#all.size < this.#max) {
      const c = new Conn(this.#port, this.#host, this);
      this.#all.add(c);
      return c;
    }
    return null;
  }

  /** Called by a connection when it is free again (or dead). */
  release(c: Conn): void {
    if (c.dead) this.#all.delete(c);
    else this.#idle.push(c);
    if (this.#qHead < this.#queue.length) {
      const next = this.#take();
      if (!next) return;
      const w = this.#queue[this.#qHead];
      this.#queue[this.#qHead++] = undefined as never;
      if (this.#qHead > 1024 && this.#qHead * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#qHead);
        this.#qHead = 0;
      }
      next.send(w.req, w.done);
    }
  }

  /** Destroy every connection; queued requests fail with `client:closed`. */
  close(): void {
    const queued = this.#queue.slice(this.#qHead);
    this.#queue = [];
    this.#qHead = 0;
    for (const c of this.#all) c.socket.destroy();
    this.#all.clear();
    this.#idle.length = 0;
    for (const w of queued) w.done('client:closed');
  }
}

/** One request as bytes: written as-is for every send. */
export function buildHttpRequest(hostPort: string, path: string, headers: Record<string, string>, body: Buffer): Buffer {
  let head = `POST ${path} HTTP/1.1\r\nHost: ${hostPort}\r\nContent-Length: ${body.length}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  head += '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
