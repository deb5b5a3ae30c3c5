import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { createApiClient } from './api/client.ts';
import { ProblemError } from './api/problem.ts';
import { AppContextValue } from './app-context.tsx';
import { authenticatorFor, type Session } from './auth/session.ts';
import { loadConfig, type PortalConfig } from './config.ts';
import './styles.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A refusal is an answer, not a flake: retry only what may pass on its own.
      retry: (count, error) => count < 2 && !(error instanceof ProblemError && error.status < 500),
      refetchOnWindowFocus: true,
    },
  },
});

function Root(props: {
  config: PortalConfig;
  session: Session | undefined;
  auth: ReturnType<typeof authenticatorFor>;
}) {
  const [session, setSession] = useState(props.session);
  const api = useMemo(() => createApiClient(props.config.apiUrl, props.auth), [props.config, props.auth]);
  const value = useMemo(
    () => ({
      config: props.config,
      api,
      auth: props.auth,
      session,
      setSession: (next: Session | undefined) => {
        queryClient.clear();
        setSession(next);
      },
    }),
    [props.config, props.auth, api, session],
  );
  return (
    <AppContextValue.Provider value={value}>
      <QueryClientProvider client={queryClient}>
        <App />
      </QueryClientProvider>
    </AppContextValue.Provider>
  );
}

async function boot(): Promise<void> {
  const root = createRoot(document.getElementById('root') as HTMLElement);
  try {
    const config = await loadConfig();
    const auth = authenticatorFor(config);
    const session = await auth.start();
    root.render(
      <StrictMode>
        <Root config={config} session={session} auth={auth} />
      </StrictMode>,
    );
  } catch (error) {
    root.render(
      <main id="main">
        <h1>Stint could not start</h1>
        <p role="alert">{error instanceof Error ? error.message : String(error)}</p>
      </main>,
    );
  }
}

void boot();
