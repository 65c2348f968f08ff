/** `tortie agent`: parse and validate the settings, then run (or print them with --print-config). */
import { agentHelp, ConfigError, formatResolvedConfig, loadAgentConfig } from '../agent/config.ts';
import { formatAutodetectMethod, IprouteHost } from '../agent/autodetect.ts';
import { AgentError } from '../agent/errors.ts';
import { resolveNodeAddresses, runAgent } from '../agent/run.ts';

export async function agentCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = loadAgentConfig(args, process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tortie agent: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (parsed.help) {
    process.stdout.write(agentHelp());
    return 0;
  }
  if (parsed.printConfig) {
    process.stdout.write(formatResolvedConfig(parsed));
    // Show what autodetection would choose here; the Node's annotation or InternalIP, known only
    // to the datastore, would take precedence in a running agent.
    try {
      const a = await resolveNodeAddresses(parsed, {}, new IprouteHost());
      for (const c of [a.ipv4, a.ipv6]) process.stdout.write(`node IPv${c.family} address: ${c.address ?? 'none'}${c.interface ? ` on ${c.interface}` : ''} (${c.reason})\n`);
    } catch (e) {
      if (!(e instanceof AgentError)) throw e;
      process.stdout.write(`node address: ${e.message}\n`);
      process.stdout.write(`(methods: IPv4 ${formatAutodetectMethod(parsed.config.ipAutodetectionMethod)}, IPv6 ${formatAutodetectMethod(parsed.config.ip6AutodetectionMethod)})\n`);
      return 1;
    }
    return 0;
  }
  try {
    await runAgent(parsed);
  } catch (e) {
    if (e instanceof AgentError) {
      process.stderr.write(`tortie agent: ${e.message} [${e.code}]\n`);
      return 1;
    }
    throw e;
  }
  // Running: the lifecycle exits the process on SIGTERM/SIGINT.
  return await new Promise<number>(() => undefined);
}
