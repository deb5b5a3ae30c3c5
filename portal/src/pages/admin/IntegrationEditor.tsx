import { AdminEditor, exactError, type FormProps, JsonField, nestedError } from '../../components/admin.tsx';
import { Field } from '../../components/form.tsx';
import type { IntegrationBody } from '../../hooks/admin.ts';

/** Every integration type, complete by type: one the API adds fails the type-check here until it is listed. */
const EVERY_TYPE: Record<IntegrationBody['type'], null> = {
  postgresql: null,
  mysql: null,
  redis: null,
  'aws-identity-center': null,
  'aws-iam-role': null,
  lambda: null,
};
const TYPES = Object.keys(EVERY_TYPE) as IntegrationBody['type'][];

const EMPTY: IntegrationBody = { name: '', type: 'postgresql', config: {}, resources: [] };

/**
 * An integration's editor (`id` is `new` for a new one): its type, the secret reference, the driver's config and
 * the resources and permissions it offers (both as JSON: their shape depends on the type, see docs/integrations).
 */
export function IntegrationEditor(props: { id: string }) {
  return (
    <AdminEditor
      key={props.id}
      kind="integrations"
      id={props.id}
      empty={EMPTY}
      formPaths={['name', 'type', 'secretRef', 'config', 'resources']}
      title={(d) => d.name}
    >
      {(form) => <IntegrationForm {...form} />}
    </AdminEditor>
  );
}

function IntegrationForm({ draft, update, error, setBlocked }: FormProps<IntegrationBody>) {
  const set = (patch: Partial<IntegrationBody>) => update((d) => ({ ...d, ...patch }));
  return (
    <>
      <Field label="Name" error={exactError(error, 'name')}>
        {(c) => <input {...c} value={draft.name ?? ''} onChange={(e) => set({ name: e.target.value })} />}
      </Field>
      <Field label="Type" error={exactError(error, 'type')}>
        {(c) => (
          <select {...c} value={draft.type} onChange={(e) => set({ type: e.target.value as IntegrationBody['type'] })}>
            {TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field
        label="Secret reference"
        hint="Where the driver's credentials live: a Secrets Manager ARN, or env:NAME locally."
        error={exactError(error, 'secretRef')}
      >
        {(c) => (
          <input
            {...c}
            value={draft.secretRef ?? ''}
            onChange={(e) => set({ secretRef: e.target.value === '' ? undefined : e.target.value })}
          />
        )}
      </Field>
      <JsonField
        label="Config (JSON)"
        hint="The driver's settings (host, port, database…); never a secret."
        value={draft.config}
        onChange={(config) => set({ config: config as IntegrationBody['config'] })}
        onValidity={(valid) => setBlocked('config', !valid)}
        error={nestedError(error, 'config')}
      />
      <JsonField
        label="Resources (JSON)"
        hint='A list of { "id", "description", "permissions": [{ "id", "grants": [...] }] }.'
        value={draft.resources}
        onChange={(resources) => set({ resources: resources as IntegrationBody['resources'] })}
        onValidity={(valid) => setBlocked('resources', !valid)}
        error={nestedError(error, 'resources')}
      />
    </>
  );
}
