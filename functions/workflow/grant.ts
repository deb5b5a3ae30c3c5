import { workflow } from '#lib/services/wiring.ts';
import { ExecutionInput } from '#lib/workflow/contract.ts';

export const handler = async (event: unknown): Promise<void> => workflow().grant(ExecutionInput.parse(event).requestId);
