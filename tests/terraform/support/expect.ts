import { expect } from 'vitest';
import type { TerraformResult } from '../../../src/domains/terraform/types.js';

/** The policy blocked the request before any jail ran, naming the rule, file and line. */
export function expectBlocked(result: TerraformResult, rule: string, file: string, line: number): void {
  expect(result.status).toBe('failed');
  expect(result.error?.type).toBe('security_violation');
  expect(result.steps).toEqual([]);
  expect(result.findings).toContainEqual(expect.objectContaining({ rule, file, line, severity: 'block' }));
  expect(result.error?.detail).toMatch(new RegExp(`^\\w+ at ${file.replace('.', '\\.')}(:\\d+)?$`));
}

export function stepNames(result: TerraformResult): string[] {
  return result.steps.map((step) => step.name);
}

export function errorText(result: TerraformResult): string {
  return [result.error?.message ?? '', ...result.diagnostics.map((d) => `${d.summary}\n${d.detail ?? ''}`)].join('\n');
}
