import { AdminEditor, exactError, type FormProps, UnitRows } from '../../components/admin.tsx';
import { Field } from '../../components/form.tsx';
import type { BundleBody } from '../../hooks/admin.ts';

const EMPTY: BundleBody = { name: '', units: [] };

/** A bundle's editor (`id` is `new` for a new bundle): a named set of access units requested as a whole. */
export function BundleEditor(props: { id: string }) {
  return (
    <AdminEditor
      key={props.id}
      kind="bundles"
      id={props.id}
      empty={EMPTY}
      formPaths={['name', 'description', 'units']}
      title={(d) => d.name}
    >
      {(form) => <BundleForm {...form} />}
    </AdminEditor>
  );
}

function BundleForm({ draft, update, error }: FormProps<BundleBody>) {
  const set = (patch: Partial<BundleBody>) => update((d) => ({ ...d, ...patch }));
  return (
    <>
      <Field label="Name" error={exactError(error, 'name')}>
        {(c) => <input {...c} value={draft.name ?? ''} onChange={(e) => set({ name: e.target.value })} />}
      </Field>
      <Field label="Description" error={exactError(error, 'description')}>
        {(c) => (
          <textarea
            {...c}
            rows={2}
            value={draft.description ?? ''}
            onChange={(e) => set({ description: e.target.value === '' ? undefined : e.target.value })}
          />
        )}
      </Field>
      <UnitRows
        legend="Units"
        noun="Unit"
        path="units"
        units={draft.units ?? []}
        onChange={(units) => set({ units })}
        error={error}
      />
    </>
  );
}
