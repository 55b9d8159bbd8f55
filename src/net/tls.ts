import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface TlsMaterial { key: Buffer; cert: Buffer; selfSigned: boolean }

/**
 * The configured certificate, or a self-signed one made on first start.
 * STARTTLS between MTAs is opportunistic (RFC 3207 section 4; RFC 7435), so a
 * self-signed certificate still encrypts. The key is created in data_dir
 * with mode 0600 and never leaves it.
 */
export function loadTls(certPath: string | null, keyPath: string | null, tlsDir: string, hostname: string): TlsMaterial {
  if (certPath && keyPath) {
    return { cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath), selfSigned: false };
  }
  const cert = path.join(tlsDir, 'cert.pem');
  const key = path.join(tlsDir, 'key.pem');
  if (!fs.existsSync(cert) || !fs.existsSync(key)) {
    fs.mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
    const tmpKey = `${key}.${process.pid}.tmp`;
    const tmpCert = `${cert}.${process.pid}.tmp`;
    const old = process.umask(0o077);
    try {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', tmpKey, '-out', tmpCert, '-days', '3650',
        '-subj', `/CN=${hostname}`, '-addext', `subjectAltName=DNS:${hostname}`,
      ], { stdio: ['ignore', 'ignore', 'pipe'] });
    } finally {
      process.umask(old);
    }
    fs.renameSync(tmpKey, key);
    fs.renameSync(tmpCert, cert);
  }
  return { cert: fs.readFileSync(cert), key: fs.readFileSync(key), selfSigned: true };
}
