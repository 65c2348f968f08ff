import { describe, expect, it } from 'vitest';
import { formatPingMatrix } from '../../src/lab/main.ts';

describe('ping matrix text', () => {
  it('marks a pair answered only when every address of the target answered', () => {
    const text = formatPingMatrix(
      [
        { from: 'a', to: 'b', address: '10.0.0.2', ok: true },
        { from: 'a', to: 'b', address: 'fd00::2', ok: false },
        { from: 'b', to: 'a', address: '10.0.0.1', ok: true },
      ],
      ['a', 'b'],
    );
    expect(text.split('\n')).toEqual(['    1  2', 'a   ·  ✗   1', 'b   ✓  ·   2']);
  });
});
