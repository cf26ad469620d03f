import { describe, expect, it } from 'vitest';
import { intern } from '../src/transport/intern.js';

describe('intern', () => {
  it('gives back an equal string, whatever was interned before', () => {
    const built = ['127.0.0', '2'].join('.');
    expect(intern(built)).toBe('127.0.0.2');
    // The table holds nothing between calls: a second string is not answered with the first.
    expect(intern('::1')).toBe('::1');
    expect(intern('trade.BTC-USD')).toBe('trade.BTC-USD');
    expect(intern('12')).toBe('12');
    expect(intern('')).toBe('');
  });
});
