/** The one call the load drivers make: send payload i, then call back with null or an error key. */
import { GrpcClient, type Done } from './grpc-client.js';
import { HttpClient } from './http-client.js';
import type { Payloads } from './payload.js';

export interface Transport {
  send(payload: number, done: Done): void;
  readonly inFlight: number;
  /** Destroy connections; anything still in flight fails. */
  close(): void;
}

/**
 * HTTP/1.1 needs one connection per outstanding request; gRPC multiplexes streams,
 * so a few sessions suffice (more only spreads the client's framing work).
 */
export function makeTransport(payloads: Payloads, hostPort: string, connections: number): Transport {
  const reqs = payloads.requests;
  if (payloads.wire === 'grpc') {
    const c = new GrpcClient(hostPort, connections);
    const path = payloads.grpcPath;
    return {
      send: (i, done) => c.send(path, reqs[i], done),
      get inFlight() { return c.inFlight; },
      close: () => c.close(),
    };
  }
  const c = new HttpClient(hostPort, connections);
  return {
    send: (i, done) => c.send(reqs[i], done),
    get inFlight() { return c.inFlight; },
    close: () => c.close(),
  };
}
