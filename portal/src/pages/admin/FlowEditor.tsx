import {
  AdminEditor,
  Checkbox,
  exactError,
  type FormProps,
  ListField,
  NameFields,
  NumberField,
  nestedError,
  UnitRows,
} from '../../components/admin.tsx';
import { Field } from '../../components/form.tsx';
import type { FlowBody } from '../../hooks/admin.ts';

type Manual = Extract<FlowBody['approval'], { mode: 'manual' }>;
type ApproverSet = Manual['sets'][number];

const EMPTY: FlowBody = {
  name: '',
  description: '',
  requestors: { everyone: false, groups: [], users: [] },
  targets: [],
  bundles: [],
  approval: { mode: 'auto' },
  defaultMinutes: 30,
  maxMinutes: 60,
  justificationRequired: true,
  maxExtensions: 0,
  breakGlass: false,
};

const MANUAL: Manual = {
  mode: 'manual',
  sets: [{ name: '', groups: [], users: [] }],
  rule: { type: 'anyOf' },
  timeoutMinutes: 60,
  reasonRequired: false,
};

/** Paths the form shows next to a field; anything else the API names is listed above the form. */
const FORM_PATHS = [
  'name',
  'description',
  'requestors.everyone',
  'requestors.groups',
  'requestors.users',
  'targets',
  'bundles',
  'approval.mode',
  'approval.sets',
  'approval.rule',
  'approval.timeoutMinutes',
  'approval.reasonRequired',
  'defaultMinutes',
  'maxMinutes',
  'justificationRequired',
  'maxExtensions',
  'breakGlass',
];

/** An access flow's editor (`id` is `new` for a new flow): who may ask, for what, for how long, who approves. */
export function FlowEditor(props: { id: string }) {
  return (
    <AdminEditor key={props.id} kind="flows" id={props.id} empty={EMPTY} formPaths={FORM_PATHS} title={(d) => d.name}>
      {(form) => <FlowForm {...form} />}
    </AdminEditor>
  );
}

function FlowForm({ draft, update, error }: FormProps<FlowBody>) {
  const set = (patch: Partial<FlowBody>) => update((d) => ({ ...d, ...patch }));
  const requestors = draft.requestors ?? {};
  const setRequestors = (patch: Partial<FlowBody['requestors']>) =>
    update((d) => ({ ...d, requestors: { ...d.requestors, ...patch } }));
  const approval = draft.approval;
  return (
    <>
      <NameFields draft={draft} set={set} error={error} />

      <fieldset>
        <legend>Who may request</legend>
        <Checkbox
          label="Everyone"
          checked={requestors.everyone === true}
          onChange={(everyone) => setRequestors({ everyone })}
          error={exactError(error, 'requestors.everyone')}
        />
        <ListField
          label="Requestor groups"
          value={requestors.groups}
          onChange={(groups) => setRequestors({ groups })}
          error={nestedError(error, 'requestors.groups') ?? exactError(error, 'requestors')}
        />
        <ListField
          label="Requestor users"
          value={requestors.users}
          onChange={(users) => setRequestors({ users })}
          error={nestedError(error, 'requestors.users')}
          hint="User ids (subjects), one per line."
        />
      </fieldset>

      <UnitRows
        legend="Targets"
        noun="Target"
        path="targets"
        units={draft.targets ?? []}
        onChange={(targets) => set({ targets })}
        error={error}
      />
      <ListField
        label="Bundles"
        value={draft.bundles}
        onChange={(bundles) => set({ bundles })}
        error={nestedError(error, 'bundles')}
        hint="Bundle ids a request may ask for as a whole, one per line."
      />

      <fieldset>
        <legend>Approval</legend>
        <Field label="Approval mode" error={exactError(error, 'approval.mode') ?? exactError(error, 'approval')}>
          {(c) => (
            <select
              {...c}
              value={approval?.mode ?? 'auto'}
              onChange={(e) => set({ approval: e.target.value === 'manual' ? MANUAL : { mode: 'auto' } })}
            >
              <option value="auto">Automatic (no approver)</option>
              <option value="manual">Manual (approvers decide)</option>
            </select>
          )}
        </Field>
        {approval?.mode === 'manual' ? (
          <ManualApproval approval={approval} onChange={(next) => set({ approval: next })} error={error} />
        ) : null}
      </fieldset>

      <fieldset>
        <legend>Duration and rules</legend>
        <NumberField
          label="Default minutes"
          min={1}
          value={draft.defaultMinutes}
          onChange={(v) => set({ defaultMinutes: v as number })}
          error={exactError(error, 'defaultMinutes')}
        />
        <NumberField
          label="Max minutes"
          min={1}
          value={draft.maxMinutes}
          onChange={(v) => set({ maxMinutes: v as number })}
          error={exactError(error, 'maxMinutes')}
        />
        <NumberField
          label="Max extensions"
          value={draft.maxExtensions}
          onChange={(v) => set({ maxExtensions: v })}
          error={exactError(error, 'maxExtensions')}
        />
        <Checkbox
          label="Justification required"
          checked={draft.justificationRequired !== false}
          onChange={(justificationRequired) => set({ justificationRequired })}
          error={exactError(error, 'justificationRequired')}
        />
        <Checkbox
          label="Break-glass (auto-approved, justification mandatory, high-severity events)"
          checked={draft.breakGlass === true}
          onChange={(breakGlass) => set({ breakGlass })}
          error={exactError(error, 'breakGlass')}
        />
      </fieldset>
    </>
  );
}

function ManualApproval(props: { approval: Manual; onChange: (next: Manual) => void; error: unknown }) {
  const { approval, error } = props;
  const set = (patch: Partial<Manual>) => props.onChange({ ...approval, ...patch });
  const setSet = (i: number, patch: Partial<ApproverSet>) =>
    set({ sets: approval.sets.map((s, j) => (j === i ? { ...s, ...patch } : s)) });
  const rule = approval.rule;
  const sets = approval.sets ?? [];
  return (
    <>
      {exactError(error, 'approval.sets') === undefined ? null : (
        <p className="field-error">{exactError(error, 'approval.sets')}</p>
      )}
      {sets.map((s, i) => {
        const at = (f: string) => `approval.sets.${i}.${f}`;
        const n = i + 1;
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: approver sets have no identity but their position
          <fieldset className="row" key={i}>
            <legend>Approver set {n}</legend>
            <Field label="Set name" error={exactError(error, at('name'))}>
              {(c) => (
                <input
                  {...c}
                  value={s.name ?? ''}
                  onChange={(e) => setSet(i, { name: e.target.value === '' ? undefined : e.target.value })}
                />
              )}
            </Field>
            <ListField
              label="Approver groups"
              value={s.groups}
              onChange={(groups) => setSet(i, { groups })}
              error={nestedError(error, at('groups')) ?? exactError(error, `approval.sets.${i}`)}
            />
            <ListField
              label="Approver users"
              value={s.users}
              onChange={(users) => setSet(i, { users })}
              error={nestedError(error, at('users'))}
            />
            <Checkbox
              label="The requester's manager may approve"
              checked={s.manager === true}
              onChange={(manager) => setSet(i, { manager: manager ? true : undefined })}
              error={exactError(error, at('manager'))}
            />
            <Checkbox
              label="The owners of the requested resources may approve"
              checked={s.owners === true}
              onChange={(owners) => setSet(i, { owners: owners ? true : undefined })}
              error={exactError(error, at('owners'))}
            />
            <button type="button" onClick={() => set({ sets: sets.filter((_, j) => j !== i) })}>
              Remove approver set {n}
            </button>
          </fieldset>
        );
      })}
      <div className="actions">
        <button type="button" onClick={() => set({ sets: [...sets, { name: '', groups: [], users: [] }] })}>
          Add approver set
        </button>
      </div>
      <Field
        label="Rule"
        error={exactError(error, 'approval.rule') ?? exactError(error, 'approval.rule.type')}
        hint="Any one approval; one from each set; or a number of distinct approvers. One reject rejects."
      >
        {(c) => (
          <select
            {...c}
            value={rule?.type ?? 'anyOf'}
            onChange={(e) => {
              const type = e.target.value;
              set({
                rule:
                  type === 'quorum'
                    ? { type: 'quorum', count: 2 }
                    : type === 'allOf'
                      ? { type: 'allOf' }
                      : { type: 'anyOf' },
              });
            }}
          >
            <option value="anyOf">Any of the sets (anyOf)</option>
            <option value="allOf">All of the sets (allOf)</option>
            <option value="quorum">Quorum</option>
          </select>
        )}
      </Field>
      {rule?.type === 'quorum' ? (
        <NumberField
          label="Approvals needed"
          min={1}
          value={rule.count}
          onChange={(count) => set({ rule: { type: 'quorum', count: count as number } })}
          error={exactError(error, 'approval.rule.count')}
        />
      ) : null}
      <NumberField
        label="Approval timeout (minutes)"
        min={1}
        value={approval.timeoutMinutes}
        onChange={(v) => set({ timeoutMinutes: v as number })}
        error={exactError(error, 'approval.timeoutMinutes')}
      />
      <Checkbox
        label="Approvers must give a reason"
        checked={approval.reasonRequired === true}
        onChange={(reasonRequired) => set({ reasonRequired })}
        error={exactError(error, 'approval.reasonRequired')}
      />
    </>
  );
}
