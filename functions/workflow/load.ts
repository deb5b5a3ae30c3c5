import { workflow } from '#lib/services/wiring/workflow.ts';
import { ExecutionInput, type LoadOutput } from '#lib/workflow/contract.ts';

export const handler = async (event: unknown): Promise<LoadOutput> =>
  workflow().load(ExecutionInput.parse(event).requestId);
