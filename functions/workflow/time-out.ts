import { workflow } from '#lib/services/wiring/workflow.ts';
import { ExecutionInput } from '#lib/workflow/contract.ts';

export const handler = async (event: unknown): Promise<void> =>
  workflow().timeOut(ExecutionInput.parse(event).requestId);
