import { VERSION } from '../version.ts';
import { agentCommand } from './agent.ts';
import { routesCommand } from './routes.ts';
import { statusCommand } from './status.ts';

interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

/** Subcommands by name; each takes --help. */
const commands: Record<string, Command> = {
  agent: { summary: "run tortie on this node (the agent; see tortie agent --help)", run: agentCommand },
  status: { summary: "show this node's BGP sessions, like calicoctl node status", run: statusCommand },
  routes: { summary: 'show the Loc-RIB, the best paths and why, and the kernel routes', run: routesCommand },
  version: {
    summary: 'print the version',
    run: async () => {
      process.stdout.write(`tortie ${VERSION} (node ${process.version})\n`);
      return 0;
    },
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return `usage: tortie <command> [options]\n\ncommands:\n${Object.entries(commands)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`tortie: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  return command.run(rest);
}
