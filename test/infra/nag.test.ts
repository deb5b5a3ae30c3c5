import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StintStack } from '#infra/stint-stack.ts';
import { synth } from './synth.ts';

let stack: StintStack;

beforeAll(() => {
  ({ stack } = synth({ stackName: 'StintTest' }));
});

/** Every acknowledgement recorded on the construct tree: [construct path, rule id, reason]. */
function acknowledgements(root: IConstruct): [string, string, unknown][] {
  const found: [string, string, unknown][] = [];
  const visit = (construct: IConstruct): void => {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY || typeof entry.data !== 'object') continue;
      for (const [id, reason] of Object.entries(entry.data ?? {})) found.push([construct.node.path, id, reason]);
    }
    for (const child of construct.node.children) visit(child);
  };
  visit(root);
  return found;
}

describe('cdk-nag AwsSolutions (default configuration: Cognito issuer, no VPC)', () => {
  it('reports no unacknowledged finding', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(
      report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
    ).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('gives every acknowledgement a written reason', () => {
    const acks = acknowledgements(stack).filter(([, id]) => id.includes('AwsSolutions-'));
    expect(acks.length).toBeGreaterThan(0);
    for (const [path, id, reason] of acks) {
      expect(typeof reason === 'string' && reason.length >= 40, `${path} ${id}`).toBe(true);
    }
  });

  it('acknowledges IAM wildcards finding by finding, never a blanket AwsSolutions-IAM5', () => {
    const ids = acknowledgements(stack).map(([, id]) => id.replace(/^annotation::/i, ''));
    expect(ids).not.toContain('AwsSolutions-IAM5');
    expect(ids).not.toContain('AwsSolutions-IAM4');
    expect(ids.filter((id) => id.startsWith('AwsSolutions-IAM5[')).length).toBeGreaterThan(0);
  });
});
