import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freeBrokerPort } from './support/kafka.js';

describe('test broker ports', () => {
  // A broker port inside the ephemeral range can be taken by any outgoing connection between the
  // free-port check and the broker's bind (seen on a busy machine: "Address already in use").
  it('are picked outside the kernel ephemeral port range', async () => {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number, number];
    for (let i = 0; i < 30; i++) {
      const p = await freeBrokerPort();
      expect(p + 1 < lo || p > hi, `port ${p} (ephemeral ${lo}-${hi})`).toBe(true);
    }
  });
});
