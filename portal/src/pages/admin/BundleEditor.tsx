import { AdminEditor, type FormProps, NameFields, UnitRows } from '../../components/admin.tsx';
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
      <NameFields draft={draft} set={set} error={error} />
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
