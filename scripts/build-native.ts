// npm postinstall: builds build/tortie-nl, the netlink relay the route controller runs, and
// build/tortie-cni-shim, the CNI front end that forwards to the agent (src/cni/server.ts), and
// build/tortie-md5.node, the addon that sets BGP session passwords (src/bgp/session/tcp-md5.ts).
// A machine without a C compiler still installs; what needs them then says what is missing.
import { buildHelper } from '../src/dataplane/helper-binary.ts';
import { buildShim } from '../src/cni/shim-binary.ts';
import { buildMd5Addon } from '../src/bgp/session/tcp-md5.ts';

for (const build of [buildHelper, buildShim, () => buildMd5Addon()]) {
  try {
    process.stdout.write(`built ${build()}\n`);
  } catch (e) {
    process.stderr.write(`warning: ${(e as Error).message}\n`);
  }
}
