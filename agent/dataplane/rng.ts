/**
 * @module
 * A small seeded PRNG for the dataplane's random impairments (loss, jitter).
 * xoshiro128** on four 32-bit words held in plain number fields: every draw is
 * a handful of integer ops with no allocation, and a seed makes a run (and a
 * test) repeatable. Not for anything that needs unpredictability.
 */

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;
const TWO_PI = 2 * Math.PI;

export class Rng {
  #s0 = 0;
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;
  /** Box-Muller makes normals in pairs; the second waits here (NaN = none). */
  #spare = Number.NaN;

  constructor(seed: number) {
    this.reseed(seed);
  }

  /** Expand one number into the four state words with splitmix32, so nearby seeds give unrelated streams. */
  reseed(seed: number): void {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) | 0;
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
    // xoshiro's only bad state is all zeros; splitmix32 cannot give four zeros in a row, but be sure.
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
    this.#spare = Number.NaN;
  }

  /** Next unsigned 32-bit integer. */
  u32(): number {
    const s1 = this.#s1;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9);
    const t = s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = (this.#s3 << 11) | (this.#s3 >>> 21);
    return result >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits: enough for loss fractions down to 1e-9. */
  uniform(): number {
    return this.u32() / TWO_POW_32;
  }

  /** Uniform in (0, 1] with 53 bits, for the logarithm in Box-Muller (never log(0), tails to ~8.5 sigma). */
  #open53(): number {
    const hi = this.u32() >>> 5;
    const lo = this.u32() >>> 6;
    return (hi * 67108864 + lo + 1) / TWO_POW_53;
  }

  /** Standard normal sample (mean 0, standard deviation 1). */
  normal(): number {
    const spare = this.#spare;
    if (spare === spare) {
      this.#spare = Number.NaN;
      return spare;
    }
    const r = Math.sqrt(-2 * Math.log(this.#open53()));
    const theta = TWO_PI * this.uniform();
    this.#spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}
