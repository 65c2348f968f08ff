/**
 * The agent's errors: each a class with a stable machine-readable `code` and a message that says
 * what was wrong and what to do about it.
 */

export const AgentErrorCode = {
  /** One or more settings of `tortie agent` are invalid. */
  ConfigInvalid: 'TORTIE_CONFIG_INVALID',
  /** No node address could be chosen, or the one configured is not an address. */
  NodeAddress: 'TORTIE_NODE_ADDRESS',
  /** The control socket's path holds something else, or another agent listens on it. */
  ControlSocketInUse: 'TORTIE_CONTROL_SOCKET_IN_USE',
  /** The control socket could not be created (no permission on its directory, ...). */
  ControlSocketFailed: 'TORTIE_CONTROL_SOCKET_FAILED',
  /** The CLI could not reach the agent (not running, stale socket, permissions, no answer). */
  AgentUnreachable: 'TORTIE_AGENT_UNREACHABLE',
  /** The agent answered a control request with an error. */
  ControlRequestFailed: 'TORTIE_CONTROL_REQUEST_FAILED',
  /** A listen address (metrics, health) could not be bound. */
  ListenFailed: 'TORTIE_LISTEN_FAILED',
} as const;
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

export class AgentError extends Error {
  readonly code: AgentErrorCode;

  constructor(code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentError';
    this.code = code;
  }
}
