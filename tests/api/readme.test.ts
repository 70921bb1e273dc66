// The README's configuration table is generated from SETTINGS; this keeps the two in step.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { TABLE_END, TABLE_START } from '../../src/app/config-table.js';
import { SETTINGS } from '../../src/config/settings.js';

describe('README configuration table', () => {
  it('readme_table_lists_every_setting_with_its_doc', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf(TABLE_START);
    const end = readme.indexOf(TABLE_END);
    expect(start, 'README lacks the generated table').toBeGreaterThan(-1);
    const table = readme.slice(start, end);
    const missing = Object.entries(SETTINGS)
      .filter(([name, setting]) => !table.includes(`| \`${name}\` |`) || !table.includes(setting.doc.replace(/\|/g, '\\|')))
      .map(([name]) => name);
    // Regenerate with `bin/confine serve --print-config-table` and paste between the markers.
    expect(missing).toEqual([]);
  });
});
