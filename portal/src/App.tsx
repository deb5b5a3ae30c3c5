import { type ReactNode, useEffect, useRef } from 'react';
import { Link, Route, Router, Switch, useLocation } from 'wouter';
import { useHashLocation } from 'wouter/use-hash-location';
import { useApp } from './app-context.tsx';
import { ErrorAlert, Loading } from './components/form.tsx';
import { useMe } from './hooks/me.ts';
import { Approvals } from './pages/Approvals.tsx';
import { Audit } from './pages/Audit.tsx';
import { BundleEditor } from './pages/admin/BundleEditor.tsx';
import { Bundles } from './pages/admin/Bundles.tsx';
import { DirectoryGroup } from './pages/admin/DirectoryGroup.tsx';
import { DirectoryGroups } from './pages/admin/DirectoryGroups.tsx';
import { DirectoryUser } from './pages/admin/DirectoryUser.tsx';
import { DirectoryUsers } from './pages/admin/DirectoryUsers.tsx';
import { FlowEditor } from './pages/admin/FlowEditor.tsx';
import { Flows } from './pages/admin/Flows.tsx';
import { IntegrationEditor } from './pages/admin/IntegrationEditor.tsx';
import { Integrations } from './pages/admin/Integrations.tsx';
import { Catalog } from './pages/Catalog.tsx';
import { MyRequests } from './pages/MyRequests.tsx';
import { NewRequest } from './pages/NewRequest.tsx';
import { RequestDetail } from './pages/RequestDetail.tsx';
import { SignIn } from './pages/SignIn.tsx';

/**
 * The portal's pages. Hash routing (`/#/requests/…`): every page is index.html, so the same files work behind
 * CloudFront and on the local runtime, where the API's own paths (`/requests`…) share the origin.
 */
export function App() {
  const { session } = useApp();
  return (
    <Router hook={useHashLocation}>
      <button type="button" className="skip-link" onClick={skipToMain}>
        Skip to content
      </button>
      {session === undefined ? (
        <main id="main" tabIndex={-1}>
          <SignIn />
        </main>
      ) : (
        <SignedIn />
      )}
    </Router>
  );
}

/** Hash routing owns the fragment, so skipping to the content moves focus instead of navigating. */
function skipToMain() {
  document.getElementById('main')?.focus();
}

function SignedIn() {
  const me = useMe();
  const [location] = useLocation();
  // After a page change, focus moves to the new content (screen readers announce it; Tab starts there).
  const shown = useRef(location);
  useEffect(() => {
    if (shown.current === location) return;
    shown.current = location;
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [location]);
  return (
    <>
      <Header admin={me.data?.admin === true} auditor={me.data?.auditor === true} />
      <main id="main" tabIndex={-1}>
        {me.isPending ? <Loading what="your identity" /> : null}
        <ErrorAlert error={me.error} title="Could not read who you are" />
        {me.data === undefined ? null : (
          <Switch>
            <Route path="/" component={Catalog} />
            <Route path="/request/:flowId">{(p) => <NewRequest flowId={p.flowId} />}</Route>
            <Route path="/requests" component={MyRequests} />
            <Route path="/requests/:id">{(p) => <RequestDetail id={p.id} />}</Route>
            <Route path="/approvals" component={Approvals} />
            <Route path="/audit">
              <Gate allowed={me.data.auditor || me.data.admin} what="auditors">
                <Audit />
              </Gate>
            </Route>
            <Route path="/admin/flows">
              <Gate allowed={me.data.admin} what="administrators">
                <Flows />
              </Gate>
            </Route>
            <Route path="/admin/flows/:id">
              {(p) => (
                <Gate allowed={me.data.admin} what="administrators">
                  <FlowEditor id={p.id} />
                </Gate>
              )}
            </Route>
            <Route path="/admin/integrations">
              <Gate allowed={me.data.admin} what="administrators">
                <Integrations />
              </Gate>
            </Route>
            <Route path="/admin/integrations/:id">
              {(p) => (
                <Gate allowed={me.data.admin} what="administrators">
                  <IntegrationEditor id={p.id} />
                </Gate>
              )}
            </Route>
            <Route path="/admin/bundles">
              <Gate allowed={me.data.admin} what="administrators">
                <Bundles />
              </Gate>
            </Route>
            <Route path="/admin/bundles/:id">
              {(p) => (
                <Gate allowed={me.data.admin} what="administrators">
                  <BundleEditor id={p.id} />
                </Gate>
              )}
            </Route>
            <Route path="/admin/directory/users">
              <Gate allowed={me.data.admin} what="administrators">
                <DirectoryUsers />
              </Gate>
            </Route>
            <Route path="/admin/directory/users/:id">
              {(p) => (
                <Gate allowed={me.data.admin} what="administrators">
                  <DirectoryUser id={p.id} />
                </Gate>
              )}
            </Route>
            <Route path="/admin/directory/groups">
              <Gate allowed={me.data.admin} what="administrators">
                <DirectoryGroups />
              </Gate>
            </Route>
            <Route path="/admin/directory/groups/:id">
              {(p) => (
                <Gate allowed={me.data.admin} what="administrators">
                  <DirectoryGroup id={p.id} />
                </Gate>
              )}
            </Route>
            <Route>
              <section>
                <h1>Page not found</h1>
                <p>
                  <Link href="/">Back to the catalog</Link>
                </p>
              </section>
            </Route>
          </Switch>
        )}
      </main>
    </>
  );
}

/** Pages for admins or auditors: the API refuses others anyway; this says so instead of showing errors. */
function Gate(props: { allowed: boolean; what: string; children: ReactNode }) {
  if (props.allowed) return props.children;
  return (
    <section>
      <h1>Not available</h1>
      <p>This page is for {props.what}.</p>
    </section>
  );
}

function Header(props: { admin: boolean; auditor: boolean }) {
  const { session, auth, setSession } = useApp();
  const [location] = useLocation();
  const item = (href: string, label: string) => {
    const current = href === '/' ? location === '/' || location.startsWith('/request/') : location.startsWith(href);
    return (
      <li>
        <Link href={href} aria-current={current ? 'page' : undefined}>
          {label}
        </Link>
      </li>
    );
  };
  return (
    <header className="top">
      <span className="brand">Stint</span>
      <nav aria-label="Main">
        <ul>
          {item('/', 'Request access')}
          {item('/requests', 'My requests')}
          {item('/approvals', 'Approvals')}
          {props.admin || props.auditor ? item('/audit', 'Audit') : null}
          {props.admin ? item('/admin/flows', 'Flows') : null}
          {props.admin ? item('/admin/integrations', 'Integrations') : null}
          {props.admin ? item('/admin/bundles', 'Bundles') : null}
          {props.admin ? item('/admin/directory/users', 'Directory') : null}
        </ul>
      </nav>
      <div className="who">
        <span>{session?.label}</span>
        {auth.kind === 'local' ? <span className="badge badge-local">local</span> : null}
        <button
          type="button"
          onClick={() => {
            void auth.signOut().then(() => setSession(undefined));
          }}
        >
          Sign out
        </button>
      </div>
    </header>
  );
}
