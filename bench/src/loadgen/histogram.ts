import { build, type Histogram } from 'hdr-histogram-js';

/**
 * The latency histogram of the load generator, in ms: 1 ms to 1 h at 3 significant digits.
 * 64-bit counts, since one bucket can see far more than 2^31 ticks in a long, busy run; the parent
 * decodes worker histograms with the same bucket size (`decodeFromCompressedBase64(s, 64)`).
 */
export function newLatencyHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: 3, bitBucketSize: 64 });
}
