import { createContext, useContext } from 'react';
import type { ApiClient } from './api/client.ts';
import type { LocalAuthenticator, OidcAuthenticator, Session } from './auth/session.ts';
import type { PortalConfig } from './config.ts';

/** What every page may use: the settings, the API client, the sign-in and the session. */
export type AppContext = {
  config: PortalConfig;
  api: ApiClient;
  auth: LocalAuthenticator | OidcAuthenticator;
  session: Session | undefined;
  setSession(session: Session | undefined): void;
};

export const AppContextValue = createContext<AppContext | undefined>(undefined);

export function useApp(): AppContext {
  const value = useContext(AppContextValue);
  if (value === undefined) throw new Error('useApp outside the portal');
  return value;
}

export function useApi(): ApiClient {
  return useApp().api;
}
