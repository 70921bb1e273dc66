// Tables follow the same colour decision as the rest of the CLI's output: on a pipe or with NO_COLOR,
// no escape codes at all (cli-table3 coloured its head and borders on its own).
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;

function render(env: NodeJS.ProcessEnv): string {
  return execFileSync('npx', ['vite-node', 'tests/cli/fixtures/render-egress.ts'], { cwd: root, env, encoding: 'utf8' });
}

describe('CLI tables', () => {
  it('egress_table_on_a_pipe_with_no_color_has_no_escape_codes', () => {
    const out = render({ ...process.env, NO_COLOR: '1', FORCE_COLOR: '' });
    expect(out).toContain('GetCallerIdentity');
    expect(out).not.toMatch(/\u001b\[/);
  });

  it('egress_table_with_force_color_is_coloured', () => {
    const { NO_COLOR: _unused, ...env } = process.env;
    const out = render({ ...env, FORCE_COLOR: '1' });
    expect(out).toMatch(/\u001b\[/);
  });
});
