/**
 * TLS for the HTTP and gRPC ports, with tritonserver's flags (`--grpc-use-ssl`,
 * `--grpc-server-cert`, `--grpc-server-key`, `--grpc-root-cert`,
 * `--grpc-use-ssl-mutual`) and the same five for HTTP (`--http-...`).
 *
 * Flags are checked for consistency with the other flags (CliError); the PEM files
 * are read and tried once at startup, before any thread or port is taken, so a
 * missing, unreadable or mismatched file is one StartupError line (exit 1), never a
 * port that fails its first handshake.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { StartupError } from '../errors/startup.js';

/** One port's TLS flags as given. `mutual` implies TLS (Triton: mutual wins). */
export interface TlsFlags {
  useSsl: boolean;
  mutual: boolean;
  /** PEM paths; '' = not given. */
  serverCert: string;
  serverKey: string;
  rootCert: string;
}

export const NO_TLS: Readonly<TlsFlags> = Object.freeze({ useSsl: false, mutual: false, serverCert: '', serverKey: '', rootCert: '' });

/** What a front end needs to serve TLS: the PEM bytes, and the paths (uWS reads files itself). */
export interface TlsMaterial {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Required under mutual TLS: the CA that client certificates must chain to. */
  readonly rootCertFile?: string;
  readonly rootCert?: Buffer;
  /** Refuse clients that do not present a certificate signed by rootCert. */
  readonly mutual: boolean;
}

export const tlsEnabled = (f: Readonly<TlsFlags>): boolean => f.useSsl || f.mutual;

/** Cross-flag check (parse time): the message names the flag to add. `null` = consistent. */
export function tlsFlagProblem(port: 'http' | 'grpc', f: Readonly<TlsFlags>): string | null {
  if (!tlsEnabled(f)) return null;
  const on = f.mutual ? `--${port}-use-ssl-mutual` : `--${port}-use-ssl`;
  if (f.serverCert === '') return `${on} requires --${port}-server-cert`;
  if (f.serverKey === '') return `${on} requires --${port}-server-key`;
  if (f.mutual && f.rootCert === '') return `${on} requires --${port}-root-cert (the CA client certificates must chain to)`;
  return null;
}

function readPem(flag: string, path: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new StartupError(`${flag} '${path}': cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!bytes.includes('-----BEGIN ')) throw new StartupError(`${flag} '${path}': not a PEM file`);
  return bytes;
}

/** Reads and tries one port's files; undefined when TLS is off. Throws StartupError. */
export function loadTls(port: 'http' | 'grpc', f: Readonly<TlsFlags>): TlsMaterial | undefined {
  if (!tlsEnabled(f)) return undefined;
  const problem = tlsFlagProblem(port, f);
  if (problem !== null) throw new StartupError(problem);
  const cert = readPem(`--${port}-server-cert`, f.serverCert);
  const key = readPem(`--${port}-server-key`, f.serverKey);
  const rootCert = f.rootCert !== '' ? readPem(`--${port}-root-cert`, f.rootCert) : undefined;
  try {
    // Parses both PEMs and checks that the key belongs to the certificate.
    createSecureContext({ cert, key, ca: rootCert });
  } catch (err) {
    throw new StartupError(`--${port}-server-cert '${f.serverCert}' with --${port}-server-key '${f.serverKey}'${rootCert ? ` and --${port}-root-cert '${f.rootCert}'` : ''}: ${(err as Error).message}`);
  }
  return Object.freeze({
    certFile: f.serverCert, keyFile: f.serverKey, cert, key, mutual: f.mutual,
    ...(rootCert !== undefined ? { rootCertFile: f.rootCert, rootCert } : {}),
  });
}
