/**
 * A self-signed certificate for 127.0.0.1/localhost, made at test time with openssl.
 * Stand-ins serve HTTPS with it (the SDK's bearer-token policy refuses plain http);
 * clients trust it through the client option `tlsOptions: { ca }`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  key: string;
  cert: string;
  /** The certificate itself: it is its own CA. */
  ca: string;
}

let cached: TestCertificate | undefined;

export function testCertificate(): TestCertificate {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'rcd-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-sha256',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const key = readFileSync(join(dir, 'key.pem'), 'utf8');
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    cached = { key, cert, ca: cert };
    return cached;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
