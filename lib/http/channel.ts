import { ValidationError } from '#lib/domain/errors.ts';

/**
 * The channels an API caller may record its writes under: the API itself, or the portal, the CLI or an AI agent
 * through the CLI's MCP server (`mcp`, so auditors can tell what an agent asked for) that use it.
 */
export type ApiChannel = 'api' | 'cli' | 'mcp' | 'portal';
const API_CHANNELS: readonly ApiChannel[] = ['api', 'cli', 'mcp', 'portal'];

/**
 * `X-Stint-Channel: portal | cli | mcp | api` (absent: `api`): the label a client declares for the timeline and audit
 * events (`lastChange.channel`, votes). It grants nothing: who may act is decided by the verified token alone, and a
 * chat or ticket channel (`slack`, `teams`, `jira`) can only be recorded by its own verified webhook, so it is refused.
 */
export function apiChannelOf(headers: Record<string, string | undefined> | undefined): ApiChannel {
  let raw: string | undefined;
  for (const [name, value] of Object.entries(headers ?? {})) if (name.toLowerCase() === 'x-stint-channel') raw = value;
  if (raw === undefined) return 'api';
  const value = raw.trim().toLowerCase();
  const channel = API_CHANNELS.find((c) => c === value);
  if (channel === undefined)
    throw new ValidationError('X-Stint-Channel must be api, cli, mcp or portal', 'x-stint-channel');
  return channel;
}
