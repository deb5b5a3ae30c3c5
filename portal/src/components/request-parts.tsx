import { useEffect, useRef, useState } from 'react';

/** Pieces the request pages share: units, people, dates, durations, countdowns, approver sets. */

export type Unit = { integrationId?: string; resource: string; permission: string };

/** `admin on demo (demo-postgres)`: what a unit grants, in words. */
export function unitText(unit: Unit): string {
  return `${unit.permission} on ${unit.resource}${unit.integrationId === undefined ? '' : ` (${unit.integrationId})`}`;
}

/** The units of a request, or its bundle name when it asked for one. */
export function UnitList(props: { units: readonly Unit[]; bundle?: string | undefined }) {
  return (
    <>
      {props.bundle === undefined ? null : <span>Bundle {props.bundle}: </span>}
      <ul className="plain">
        {props.units.map((u) => (
          <li key={unitText(u)}>{unitText(u)}</li>
        ))}
      </ul>
    </>
  );
}

export type Person = { sub: string; email: string };

/** `alice (alice@example.com)`. */
export function personText(p: Person): string {
  return p.email === '' || p.email === p.sub ? p.sub : `${p.sub} (${p.email})`;
}

/** A date and time in the reader's locale, in a <time> element holding the exact instant. */
export function When(props: { at: string }) {
  const date = new Date(props.at);
  if (Number.isNaN(date.getTime())) return <span>{props.at}</span>;
  return <time dateTime={props.at}>{date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}</time>;
}

/** `90` → `1 h 30 min`. */
export function minutesText(minutes: number): string {
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}

/** `3725 s` → `1 h 2 min 5 s`; seconds are dropped beyond an hour. */
export function remainingText(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${s} s`;
  return `${s} s`;
}

/**
 * Time left until `until`, ticking every second; calls `onElapsed` once when it reaches zero (pages then look
 * at the request again instead of trusting the clock). Screen readers are not interrupted by the ticks: the
 * text is not a live region, and the exact instant is in the <time> element.
 */
export function Countdown(props: { until: string; onElapsed?: () => void }) {
  const end = new Date(props.until).getTime();
  const [now, setNow] = useState(() => Date.now());
  const elapsed = useRef(false);
  const onElapsed = useRef(props.onElapsed);
  onElapsed.current = props.onElapsed;
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  // A later expiry (an extension) counts down afresh.
  useEffect(() => {
    if (end > Date.now()) elapsed.current = false;
  }, [end]);
  const left = end - now;
  useEffect(() => {
    if (left <= 0 && !elapsed.current) {
      elapsed.current = true;
      onElapsed.current?.();
    }
  }, [left]);
  if (Number.isNaN(end)) return <span>{props.until}</span>;
  return <time dateTime={props.until}>{left > 0 ? `in ${remainingText(left)}` : 'now (ending)'}</time>;
}

export type ApproverSetLike = {
  name?: string;
  users?: string[];
  groups?: string[];
  manager?: boolean;
  owners?: boolean;
  oncall?: { provider: string; schedule?: string; escalationPolicy?: string; level?: number };
};

/** `DBAs: group dba` — who is in an approver set. */
export function approverSetText(set: ApproverSetLike): string {
  const members = [
    ...(set.groups ?? []).map((g) => `group ${g}`),
    ...(set.users ?? []).map((u) => `user ${u}`),
    ...(set.manager === true ? ["the requester's manager"] : []),
    ...(set.owners === true ? ['the owners of the requested resources'] : []),
    ...(set.oncall === undefined
      ? []
      : [
          `whoever is on call in ${set.oncall.schedule ?? set.oncall.escalationPolicy}${set.oncall.level === undefined ? '' : ` (level ${set.oncall.level})`} (${set.oncall.provider})`,
        ]),
  ];
  const list = members.length === 0 ? 'nobody' : members.join(', ');
  return set.name === undefined ? list : `${set.name}: ${list}`;
}

export type RuleLike = { type: 'anyOf' } | { type: 'allOf' } | { type: 'quorum'; count: number };

/** How many approvals decide, in words. */
export function ruleText(rule: RuleLike, sets: number): string {
  switch (rule.type) {
    case 'anyOf':
      return sets > 1 ? 'one approval from anyone in these sets' : 'one approval';
    case 'allOf':
      return 'one approval from each set';
    case 'quorum':
      return `${rule.count} approvals from different approvers`;
  }
}

/** A plain object or undefined: fields the API may add are read through this, never assumed. */
export function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
