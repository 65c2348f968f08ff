// npm postinstall: builds build/tortie-nl, the netlink relay the route controller runs, and
// build/tortie-cni-shim, the CNI front end that forwards to the agent (src/cni/server.ts).
// A machine without a C compiler still installs; what needs them then says what is missing.
import { buildHelper } from '../src/dataplane/helper-binary.ts';
import { buildShim } from '../src/cni/shim-binary.ts';

for (const build of [buildHelper, buildShim]) {
  try {
    process.stdout.write(`built ${build()}\n`);
  } catch (e) {
    process.stderr.write(`warning: ${(e as Error).message}\n`);
  }
}
