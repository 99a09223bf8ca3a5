import type { DataPlane } from '../../dataplane/api.js';
import type { AccessControl } from '../access.js';
import type { Admission } from '../admission.js';
import type { RequestBytesBudget } from '../request-bytes.js';
import type { BodyLimits } from './body.js';
import type { HttpLogger } from './exchange.js';

/** What every handler needs; built once per server. */
export interface HttpContext extends BodyLimits {
  readonly dp: DataPlane;
  readonly maxBodyBytes: number;
  /** Request bytes held by every request in flight, both front ends, bounded (--max-inflight-request-bytes). */
  readonly bodyBudget: RequestBytesBudget;
  /** Per-client rate limits and early refusals of inference requests (none: every request goes on). */
  readonly admission: Admission | undefined;
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
