// Resource ids as Google makes them: lowercase letters and digits, random.
import { randomBytes } from "node:crypto";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

export function randomId(length: number): string {
  // 252 = 7 * 36: bytes below it map to the alphabet evenly; the few above are redrawn.
  let id = "";
  while (id.length < length) {
    for (const byte of randomBytes(length)) if (byte < 252 && id.length < length) id += ALPHABET[byte % ALPHABET.length];
  }
  return id;
}
