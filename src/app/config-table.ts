// The README's configuration table, generated from the one settings table so the two cannot drift
// (`confine serve --print-config-table`; tests/api/readme.test.ts checks the README holds this output).
import { SETTINGS, type Setting } from '../config/settings.js';

export const TABLE_START = '<!-- config-table:start (generated: bin/confine serve --print-config-table) -->';
export const TABLE_END = '<!-- config-table:end -->';

export function configTable(settings: Readonly<Record<string, Setting>> = SETTINGS): string {
  const escape = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const rows = Object.entries(settings).map(([name, s]) => {
    const value = s.default === '' ? '(empty)' : `\`${escape(s.default)}\``;
    return `| \`${name}\` | ${value} | ${escape(s.doc)} |`;
  });
  return [TABLE_START, '| Variable | Default | Description |', '|---|---|---|', ...rows, TABLE_END].join('\n');
}
