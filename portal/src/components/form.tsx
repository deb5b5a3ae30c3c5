import { type ReactNode, useId } from 'react';
import { messageOf, ProblemError } from '../api/problem.ts';

/**
 * A labelled form control with its error under it: the message the API's problem+json gave for this field's
 * JSON path, linked to the control with aria-describedby and aria-invalid so people and tests find both.
 */
export function Field(props: {
  label: string;
  error?: string | undefined;
  hint?: string;
  children: (control: { id: string; 'aria-invalid': boolean; 'aria-describedby': string | undefined }) => ReactNode;
}) {
  const id = useId();
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const describedBy = [props.hint === undefined ? '' : hintId, props.error === undefined ? '' : errorId]
    .filter((s) => s !== '')
    .join(' ');
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      {props.children({
        id,
        'aria-invalid': props.error !== undefined,
        'aria-describedby': describedBy === '' ? undefined : describedBy,
      })}
      {props.hint === undefined ? null : (
        <p className="hint" id={hintId}>
          {props.hint}
        </p>
      )}
      {props.error === undefined ? null : (
        <p className="field-error" id={errorId}>
          {props.error}
        </p>
      )}
    </div>
  );
}

/** The API's message for a field path (or any path under it) from a failed mutation. */
export function fieldError(error: unknown, ...paths: string[]): string | undefined {
  if (!(error instanceof ProblemError)) return undefined;
  for (const path of paths) {
    const exact = error.forField(path);
    if (exact !== undefined) return exact;
    const nested = Object.entries(error.fields).find(([p]) => p.startsWith(`${path}.`));
    if (nested !== undefined) return nested[1];
  }
  return undefined;
}

/** An error the page cannot pin on a field: announced to screen readers. */
export function ErrorAlert(props: { error: unknown; title?: string }) {
  if (props.error === null || props.error === undefined) return null;
  return (
    <div className="alert alert-error" role="alert">
      <strong>
        {props.title ?? (props.error instanceof ProblemError ? props.error.title : 'Something went wrong')}
      </strong>{' '}
      {messageOf(props.error)}
    </div>
  );
}

export function Loading(props: { what: string }) {
  return (
    <p className="loading" role="status">
      Loading {props.what}…
    </p>
  );
}
