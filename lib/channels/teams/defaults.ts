/** The public Bot Connector and Graph endpoints, in a module of their own: lib/config.ts defaults to them without the connector. */
export const DEFAULT_TEAMS_SERVICE_URL = 'https://smba.trafficmanager.net/teams/';
export const DEFAULT_GRAPH_URL = 'https://graph.microsoft.com';
