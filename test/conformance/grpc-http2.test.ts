/** The gRPC conformance suite over the http2 engine (gRPC on node:http2, src/frontends/grpc/h2/). */
import { grpcConformance } from './grpc-suite.js';

grpcConformance('http2');
