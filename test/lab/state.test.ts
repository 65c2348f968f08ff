import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS } from '../../src/lab/plan.ts';
import { emptyState, hasState, LabStateError, processMatches, readState, writeState } from '../../src/lab/state.ts';

describe('lab state file', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(path.join(tmpdir(), 'tortie-lab-state-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('round-trips what the lab records', () => {
    const d = dir();
    const s = emptyState({ ...DEFAULT_OPTIONS, nodes: 2 });
    s.namespaces.push('tl-switch');
    s.processes.push({ role: 'bird', pid: 42, netns: 'tl-router', marker: 'bird' });
    writeState(d, s);
    expect(hasState(d)).toBe(true);
    expect(readState(d)).toEqual(s);
  });

  it('names what is wrong: no lab, or a file that is not a state file', () => {
    const d = dir();
    expect(() => readState(d)).toThrow(/no lab here: .*state\.json does not exist/);
    writeFileSync(path.join(d, 'state.json'), '{not json');
    try {
      readState(d);
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(LabStateError);
      expect((e as LabStateError).code).toBe('TK_LAB_BAD_STATE');
    }
    writeFileSync(path.join(d, 'state.json'), '{"version": 2}');
    expect(() => readState(d)).toThrow(/not a lab state file of version 1/);
  });

  it('recognises a process by its command line, so a reused PID is never signalled', () => {
    expect(processMatches(process.pid, 'node')).toBe(true);
    expect(processMatches(process.pid, 'bird -c /no/such/dir')).toBe(false);
    expect(processMatches(2 ** 22 + 1, 'node')).toBe(false);
  });
});
