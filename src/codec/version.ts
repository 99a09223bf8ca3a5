/**
 * The model version a request names: '' (whichever version the model's policy
 * serves) or decimal digits. One rule for every entry point (HTTP paths, gRPC
 * messages and control calls); each protocol answers a bad version in its own wire
 * text, which clients and the conformance suite match: gRPC in tritonserver's
 * words, HTTP in Osprey's. The registry and the data plane rely on it.
 */
import { InvalidArgument } from '../errors/errors.js';

const DIGITS = /^[0-9]+$/;

/** Returns the version unchanged, or throws InvalidArgument in the protocol's words. */
export function checkVersion(version: string, wire: 'http' | 'grpc'): string {
  if (version === '' || DIGITS.test(version)) return version;
  if (wire === 'http') throw new InvalidArgument(`invalid model version '${version}': a version must be a decimal number`);
  if (/^-[0-9]+$/.test(version)) {
    throw new InvalidArgument(`invalid model version specified '${version}' , version should be an integral value > 0`);
  }
  throw new InvalidArgument(`failed to get model version from specified version string '${version}' (details: stol), version should be an integral value > 0`);
}
