/** What each measurement (scripts/bench/measure.ts) writes, and scripts/bench.ts reads. */
import type { CostLine } from './cost.ts';

/** Totals over `n` lifecycles of one kind; `null` where the measured tree does not count it. */
export type LifecycleCounts = {
  n: number;
  transitions: number;
  invocations: Record<string, number>;
  durationMs: Record<string, number> | null;
  dynamodb: Record<string, number>;
  dynamodbByCaller: Record<string, Record<string, number>> | null;
  events: number;
  sqsRequests: number;
  apiRequests: number;
};

export type LifecyclesResult = {
  selfServe: LifecycleCounts;
  approved: LifecycleCounts;
  latencyMs: { createToActive: number[]; approveToActive: number[]; revokeToRevoked: number[] };
  memoryMb: Record<string, number>;
  idle: { lines: CostLine[]; counts: Record<string, number> };
};

export type ExpiryResult = { n: number; expiredLagMs: number[]; refusedLagMs: number[] };
export type SlackResult = { n: number; handlingMs: number[]; approved: number };
/** coldImportMs is null when the bundle failed to import (importError says why). */
export type BundlesResult = { entry: string; bytes: number; coldImportMs: number | null; importError?: string }[];
export type PortalResult = { file: string; raw: number; gzip: number; brotli: number }[];
export type CliResult = { helpMs: number[]; nodeMs: number[] };
/** `npm test` once: its wall time, whether it passed, and each vitest file's duration (repo-relative path). */
export type SuiteResult = { wallMs: number; passed: boolean; files: { file: string; ms: number }[] };

export type PartResults = {
  lifecycles: LifecyclesResult;
  expiry: ExpiryResult;
  slack: SlackResult;
  bundles: BundlesResult;
  portal: PortalResult;
  cli: CliResult;
  suite: SuiteResult;
};
export type Part = keyof PartResults;
/** What a bench measures unless `--part` says otherwise. */
export const PARTS: Part[] = ['lifecycles', 'expiry', 'slack', 'bundles', 'portal', 'cli'];
/** Every part: `suite` (the whole `npm test`, about 9 minutes on 2 cores) only when asked for. */
export const ALL_PARTS: Part[] = [...PARTS, 'suite'];
