import { tokenWorkflow } from '#lib/services/wiring/workflow-tokens.ts';
import { RegisterTokenInput } from '#lib/workflow/contract.ts';

export const handler = async (event: unknown): Promise<void> =>
  tokenWorkflow().registerToken(RegisterTokenInput.parse(event));
