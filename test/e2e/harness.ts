/**
 * What the e2e files share: a lab per file (taken down whatever happens) and polling helpers.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { Lab, type LabConfig } from '../../src/lab/lab.ts';
import { uniqueName } from '../../src/netns/netns.ts';

import { waitFor } from '../helpers/wait-for.ts';

export { waitFor };

/**
 * A lab for the describe block it is called in: up before the tests, down after them even when
 * they fail. Names are unique (prefix from uniqueName), state in a temporary directory.
 */
export function useLab(options: Omit<LabConfig, 'stateDir'>): { lab: () => Lab } {
  let lab: Lab | undefined;
  let stateDir = '';
  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), 'tortie-e2e-lab-'));
    lab = await Lab.up({ prefix: uniqueName('tl'), ...options, stateDir });
    await lab.waitForAgents();
  });
  afterAll(async () => {
    // The lab object itself when it came up (it holds the router's log open), else whatever an
    // interrupted up recorded.
    if (lab) await lab.down();
    else if (stateDir && existsSync(stateDir)) await Lab.open(stateDir).down();
  });
  return {
    lab: () => {
      if (!lab) throw new Error('the lab did not come up');
      return lab;
    },
  };
}

/** Waits until every agent has every configured peer Established (mesh and router). */
export function waitForAllSessions(lab: Lab, timeoutMs = 90_000): Promise<void> {
  return lab.waitForSessions(timeoutMs);
}
