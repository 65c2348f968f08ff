import { VERSION } from '../version.ts';

interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

/**
 * Subcommands by name; each takes --help. Each is imported when run, so that `tortie status` does
 * not pay for loading the agent's logging and metrics libraries.
 */
const commands: Record<string, Command> = {
  agent: { summary: "run tortie on this node (the agent; see tortie agent --help)", run: async (a) => (await import('./agent.ts')).agentCommand(a) },
  status: { summary: "show this node's BGP sessions, like calicoctl node status", run: async (a) => (await import('./status.ts')).statusCommand(a) },
  routes: { summary: 'show the Loc-RIB, the best paths and why, and the kernel routes', run: async (a) => (await import('./routes.ts')).routesCommand(a) },
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
