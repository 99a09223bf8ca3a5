import type { DataPlane } from '../../dataplane/api.js';
import type { AccessControl } from '../access.js';
import type { HttpLogger } from './exchange.js';

/** What every handler needs; built once per server. */
export interface HttpContext {
  readonly dp: DataPlane;
  readonly maxBodyBytes: number;
  readonly logger: HttpLogger | undefined;
  /** Restrictions and the loopback-only default for admin calls; none: everything open (tests of other parts). */
  readonly access: AccessControl | undefined;
}

/** Request headers a body-reading route needs, read inside the engine's handler (uWS's req dies after it). */
export interface RequestHead {
  readonly contentLength: string;
  readonly contentEncoding: string;
  readonly inferHeaderLength: string;
  /** Infer only: the sticky-routing header the model's traffic policy hashes (`DataPlane.routingHeader`), as [name, value]. */
  readonly routing?: readonly [string, string];
}
