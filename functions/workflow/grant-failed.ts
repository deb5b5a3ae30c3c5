import { workflow } from '#lib/services/wiring/workflow.ts';
import { FailedStepInput } from '#lib/workflow/contract.ts';

export const handler = async (event: unknown): Promise<void> => {
  const input = FailedStepInput.parse(event);
  await workflow().grantFailed(input.requestId, input.error);
};
