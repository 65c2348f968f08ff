/**
 * What the lab needs on the machine, and the command that installs what is missing. Checked
 * before anything is built, so that a missing daemon never leaves a half-made lab behind.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import type { RouterKind } from './plan.ts';

export interface Tool {
  /** Executable name, or an absolute path for daemons Debian installs outside PATH. */
  command: string;
  /** The Debian package that provides it. */
  debianPackage: string;
}

const BASE: Tool[] = [
  { command: 'ip', debianPackage: 'iproute2' },
  { command: 'ping', debianPackage: 'iputils-ping' },
];

const ROUTER_TOOLS: Record<RouterKind, Tool[]> = {
  bird: [
    { command: 'bird', debianPackage: 'bird2' },
    { command: 'birdc', debianPackage: 'bird2' },
  ],
  frr: [
    { command: '/usr/lib/frr/zebra', debianPackage: 'frr' },
    { command: '/usr/lib/frr/bgpd', debianPackage: 'frr' },
    { command: 'vtysh', debianPackage: 'frr' },
  ],
  gobgp: [
    { command: 'gobgpd', debianPackage: 'gobgpd' },
    { command: 'gobgp', debianPackage: 'gobgpd' },
  ],
};

export function toolsFor(router: RouterKind): Tool[] {
  return [...BASE, ...ROUTER_TOOLS[router]];
}

export class MissingToolsError extends Error {
  readonly code = 'TK_LAB_MISSING_TOOLS';
  readonly missing: Tool[];
  constructor(missing: Tool[]) {
    const packages = [...new Set(missing.map((t) => t.debianPackage))];
    super(
      `the lab needs ${missing.map((t) => `'${path.basename(t.command)}'`).join(', ')}, not found on this machine.\n` +
        `Install with: apt-get install -y ${packages.join(' ')}\n` +
        `(or scripts/install-deps.sh, which installs everything CI uses)`,
    );
    this.name = 'MissingToolsError';
    this.missing = missing;
  }
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds a command on PATH (plus the sbin directories, where iproute2 and daemons live). */
export function findCommand(command: string, searchPath: string = process.env.PATH ?? ''): string | null {
  if (command.includes('/')) return executable(command) ? command : null;
  const dirs = [...searchPath.split(':').filter(Boolean), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    const f = path.join(d, command);
    if (executable(f)) return f;
  }
  return null;
}

/** Throws MissingToolsError naming every missing tool and the packages to install. */
export function checkTools(tools: Tool[], find: (command: string) => string | null = (c) => findCommand(c)): void {
  const missing = tools.filter((t) => find(t.command) === null);
  if (missing.length > 0) throw new MissingToolsError(missing);
}

export class NotRootError extends Error {
  readonly code = 'TK_LAB_NOT_ROOT';
  constructor() {
    super('the lab makes network namespaces and needs root: run it as root (sudo npm run lab)');
    this.name = 'NotRootError';
  }
}

export function checkRoot(uid: number | undefined = process.geteuid?.()): void {
  if (uid !== 0) throw new NotRootError();
}
