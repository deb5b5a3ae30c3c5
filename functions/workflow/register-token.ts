import { workflow } from '#lib/services/wiring/workflow.ts';
import { RegisterTokenInput } from '#lib/workflow/contract.ts';

export const handler = async (event: unknown): Promise<void> =>
  workflow().registerToken(RegisterTokenInput.parse(event));
