import type { LoadOutput } from '#lib/workflow/contract.ts';
import type { Executions } from '#lib/workflow/executions.ts';

/**
 * The one stand-in at service level: Step Functions has no local stand-in below the local runtime. It records
 * every call and behaves like the real thing where the services depend on it:
 * - resume/fail of a token that is not live returns false (the wait ended or never existed); a live token is
 *   used up by its first resume/fail, as SendTaskSuccess/Failure do;
 * - start marks the execution `<id>/<attempt>` running, so isRunning sees it; `stop` ends one.
 * `failStarts` makes start throw (StartExecution failing after the request was written).
 */
export class RecordingExecutions implements Executions {
  readonly starts: { requestId: string; attempt: number }[] = [];
  readonly resumes: { token: string; live: boolean }[] = [];
  readonly fails: { token: string; error: string; cause: string; live: boolean }[] = [];
  readonly isRunningCalls: { requestId: string; attempt: number }[] = [];
  /** The route handed to each start and resume, in call order (undefined: none; the execution loads first). */
  readonly startRoutes: (LoadOutput | undefined)[] = [];
  readonly resumeRoutes: (LoadOutput | undefined)[] = [];
  failStarts = false;
  private readonly liveTokens = new Set<string>();
  private readonly running = new Set<string>();

  /** Tokens a wait is currently blocked on. */
  live(...tokens: string[]): this {
    for (const token of tokens) this.liveTokens.add(token);
    return this;
  }

  /** Mark an execution as running (as if started before this test's recording began). */
  markRunning(requestId: string, attempt: number): this {
    this.running.add(key(requestId, attempt));
    return this;
  }

  stop(requestId: string, attempt: number): this {
    this.running.delete(key(requestId, attempt));
    return this;
  }

  async start(requestId: string, attempt: number, load?: LoadOutput): Promise<void> {
    // Let concurrent callers interleave as they would around a network call.
    await Promise.resolve();
    if (this.failStarts) throw new Error('StartExecution failed (recording stand-in told to fail)');
    this.starts.push({ requestId, attempt });
    this.startRoutes.push(load);
    this.running.add(key(requestId, attempt));
  }

  async resume(token: string, load?: LoadOutput): Promise<boolean> {
    await Promise.resolve();
    const live = this.liveTokens.delete(token);
    this.resumes.push({ token, live });
    this.resumeRoutes.push(load);
    return live;
  }

  async fail(token: string, error: string, cause: string): Promise<boolean> {
    await Promise.resolve();
    const live = this.liveTokens.delete(token);
    this.fails.push({ token, error, cause, live });
    return live;
  }

  async isRunning(requestId: string, attempt: number): Promise<boolean> {
    await Promise.resolve();
    this.isRunningCalls.push({ requestId, attempt });
    return this.running.has(key(requestId, attempt));
  }
}

function key(requestId: string, attempt: number): string {
  return `${requestId}/${attempt}`;
}
