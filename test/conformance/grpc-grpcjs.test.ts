/** The gRPC conformance suite over grpc-js's server. */
import { grpcConformance } from './grpc-suite.js';

grpcConformance('grpc-js');
