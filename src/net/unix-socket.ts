/**
 * Owner-only unix sockets for the agent's local servers (control socket, CNI server): clearing a
 * socket file left by a dead process, and listening so that the file is 0600 from bind() on.
 * Outcomes are returned as data; each server turns them into its own typed error.
 */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, type Server } from 'node:net';

export type StaleSocketOutcome =
  | { kind: 'absent' }
  | { kind: 'removed' }
  | { kind: 'alive' }
  | { kind: 'not-socket' }
  | { kind: 'unprobed'; code: string };

/**
 * Removes the socket at `path` only when it is provably stale: a refused connection. A live
 * listener, a non-socket file, or any other probe failure (EACCES: someone else's socket) leaves
 * the file alone and says why.
 */
export async function clearStaleSocket(path: string): Promise<StaleSocketOutcome> {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    throw e;
  }
  if (!st.isSocket()) return { kind: 'not-socket' };
  const probe = await new Promise<'alive' | 'stale' | string>((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve('alive');
    });
    c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED' ? 'stale' : (e.code ?? e.message)));
  });
  if (probe === 'alive') return { kind: 'alive' };
  if (probe !== 'stale') return { kind: 'unprobed', code: probe };
  unlinkSync(path);
  return { kind: 'removed' };
}

/**
 * Listens on `path` with the file owner-only from birth: bind() creates it with 0777 & ~umask, so
 * the umask is narrowed around listen(), leaving no window where others could connect. Resolves to
 * the socket file's inode (so a later stop removes only its own file); rejects with the listen error.
 */
export async function listenOwnerOnly(server: Server, path: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const oldMask = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(oldMask);
    }
  });
  chmodSync(path, 0o600);
  return lstatSync(path).ino;
}
