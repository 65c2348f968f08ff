// npm postinstall: builds build/tortie-nl, the netlink relay the route controller runs.
// A machine without a C compiler still installs; the controller then says what is missing.
import { buildHelper } from '../src/dataplane/helper-binary.ts';

try {
  process.stdout.write(`built ${buildHelper()}\n`);
} catch (e) {
  process.stderr.write(`warning: ${(e as Error).message}\n`);
}
