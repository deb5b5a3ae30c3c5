import type * as z from 'zod';

/**
 * Small pieces the local runtime's durable parts share (stream journal, queues, the bus's retries).
 */

/** The valid lines of a JSONL journal, in order; a torn last line after a crash and foreign lines are skipped. */
export function journalLines<T extends z.ZodType>(text: string, schema: T): z.output<T>[] {
  const lines: z.output<T>[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      continue; // a torn last line after a crash
    }
    const line = schema.safeParse(json);
    if (line.success) lines.push(line.data);
  }
  return lines;
}

/** Backoff sleeps that stop() ends at once, so shutting the runtime down never waits for a retry timer. */
export class Sleeps {
  readonly #timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.#timers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.#timers.add(entry);
    });
  }

  /** Ends every pending sleep now. */
  wakeAll(): void {
    for (const t of this.#timers) {
      clearTimeout(t.timer);
      t.resolve();
    }
    this.#timers.clear();
  }
}
