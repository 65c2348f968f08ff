import { VERSION } from '../version.ts';

/** Subcommands by name. Later issues add agent, status, routes. */
const commands: Record<string, (args: string[]) => Promise<number>> = {
  version: async () => {
    process.stdout.write(`tortie ${VERSION} (node ${process.version})\n`);
    return 0;
  },
};

function usage(): string {
  return `usage: tortie <command> [options]\n\ncommands:\n${Object.keys(commands).map((c) => `  ${c}`).join('\n')}\n`;
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
  return command(rest);
}
