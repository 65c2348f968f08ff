/**
 * ExaBGP as a scripted peer in a namespace: configured through environment variables, driven by
 * an API process that replays command files we drop into its directory. Its `attribute [ code
 * flags value ]` syntax puts raw attributes on the wire, which is how tests craft malformed
 * UPDATEs. It dials out and does not listen: peer it with a passive neighbour.
 */
import type { ChildProcess } from 'node:child_process';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stopPid, type Netns } from '../../netns/netns.ts';
import { instanceDir, isAlive, removeDir, type DaemonNeighbor } from './common.ts';

export interface ExabgpOptions {
  ns: Netns;
  routerId: string;
  asn: number;
  neighbors: DaemonNeighbor[];
}

export class Exabgp {
  readonly ns: Netns;
  readonly dir: string;
  private child: ChildProcess | null = null;
  pid = 0;
  private seq = 0;
  log = '';

  private constructor(ns: Netns, dir: string) {
    this.ns = ns;
    this.dir = dir;
  }

  static async start(o: ExabgpOptions): Promise<Exabgp> {
    const dir = await instanceDir('exabgp');
    const x = new Exabgp(o.ns, dir);
    // The API helper must keep its stdout open, or ExaBGP respawns it and gives up (PEERS.md).
    const feed = path.join(dir, 'feed.sh');
    await writeFile(
      feed,
      `#!/bin/sh\ncd ${dir}\nwhile true; do\n  kill -0 $PPID 2>/dev/null || exit 0\n  for f in $(ls cmd.* 2>/dev/null | sort -t. -k2 -n); do cat "$f"; rm -f "$f"; done\n  sleep 0.1\ndone\n`,
      { mode: 0o755 },
    );
    const L = ['process feed {', `  run ${feed};`, '  encoder text;', '}'];
    for (const n of o.neighbors) {
      L.push(
        `neighbor ${n.address} {`,
        `  router-id ${o.routerId};`,
        `  local-address ${n.localAddress};`,
        `  local-as ${o.asn};`,
        `  peer-as ${n.asn};`,
        `  hold-time ${n.holdTime ?? 9};`,
        '  family {',
        ...(n.families ?? ['ipv4', 'ipv6']).map((f) => `    ${f} unicast;`),
        '  }',
        '  api {',
        '    processes [ feed ];',
        '  }',
        '}',
      );
    }
    const conf = path.join(dir, 'exabgp.conf');
    await writeFile(conf, L.join('\n') + '\n');
    const env = {
      ...process.env,
      exabgp_daemon_daemonize: 'false',
      exabgp_daemon_user: 'root',
      exabgp_api_ack: 'false',
      exabgp_log_destination: 'stdout',
      exabgp_log_level: 'INFO',
      exabgp_tcp_bind: '',
      exabgp_api_cli: 'false',
    };
    const child = o.ns.spawn('/usr/bin/python3', ['/usr/sbin/exabgp', conf], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    x.child = child;
    x.pid = child.pid!;
    const keep = (d: Buffer) => (x.log = (x.log + d.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    return x;
  }

  /** Sends one API command (e.g. `announce route 10.0.0.0/24 next-hop self`). */
  async send(command: string): Promise<void> {
    const n = ++this.seq;
    const tmp = path.join(this.dir, `tmp.${n}`);
    await writeFile(tmp, command + '\n');
    await rename(tmp, path.join(this.dir, `cmd.${n}`));
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    if (this.pid && isAlive(this.pid)) await stopPid(this.pid);
    await removeDir(this.dir);
  }
}
