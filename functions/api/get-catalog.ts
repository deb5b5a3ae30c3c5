import { httpHandler } from '#lib/http/handler.ts';
import { admin } from '#lib/services/wiring.ts';

export const handler = httpHandler({}, async ({ identity }) => {
  const flows = await admin().catalog(identity);
  return {
    status: 200,
    body: {
      flows: flows.map((f) => ({
        id: f.id,
        name: f.name,
        description: f.description,
        targets: f.targets,
        bundles: f.bundles,
        approval:
          f.approval.mode === 'auto'
            ? { mode: 'auto' }
            : {
                mode: 'manual',
                rule: f.approval.rule,
                sets: f.approval.sets,
                reasonRequired: f.approval.reasonRequired,
                timeoutMinutes: f.approval.timeoutMinutes,
              },
        defaultMinutes: f.defaultMinutes,
        maxMinutes: f.maxMinutes,
        justificationRequired: f.justificationRequired || f.breakGlass,
        maxExtensions: f.maxExtensions,
        breakGlass: f.breakGlass,
        workingHours: f.workingHours,
        labels: f.labels,
      })),
    },
  };
});
