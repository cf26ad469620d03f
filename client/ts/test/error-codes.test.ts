import { describe, expect, it } from 'vitest';
import { ERROR_CODES as PROTOCOL_ERROR_CODES } from '../../../protocol/src/errors.js';
import { ERROR_CODES } from '../src/index.js';

describe('err-code table', () => {
  it('is the protocol table itself (codes and retry flags), not a copy', () => {
    expect(ERROR_CODES).toBe(PROTOCOL_ERROR_CODES);
    expect(Object.keys(ERROR_CODES)).toContain('bad_topic');
  });
});
