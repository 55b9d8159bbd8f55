import { randomBytes } from 'node:crypto';

// Crockford base32: no I, L, O, U, so a REF read over the phone survives.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A transaction reference: 12 symbols, 60 bits from the CSPRNG. Not guessable
 * (the public page for a REF must not be enumerable) and, at 2^-60 per pair,
 * unique in practice for any ledger this system will hold.
 */
export function newRef(): string {
  const bytes = randomBytes(8);
  let n = bytes.readBigUInt64BE(0);
  let out = '';
  for (let i = 0; i < 12; i++) {
    out += ALPHABET[Number(n & 31n)];
    n >>= 5n;
  }
  return out;
}

export const REF_PATTERN = /^[0-9A-HJKMNP-TV-Z]{12}$/;
