// hcl2json drops source positions, so a finding's line is found by a targeted scan of the file for the
// block header (and then the attribute) it is about. A miss leaves `line` undefined, never wrong data.

export type Locator = ({ block: string; labels?: string[] } | { attr: string })[];

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function hclPattern(step: Locator[number]): RegExp {
  if ('attr' in step) return new RegExp(`^\\s*${escape(step.attr)}\\s*[={]`);
  const labels = (step.labels ?? []).map((label) => `\\s+"${escape(label)}"`).join('');
  return new RegExp(`^\\s*${escape(step.block)}${labels}\\s*\\{?`);
}

function jsonPatterns(step: Locator[number]): RegExp[] {
  const keys = 'attr' in step ? [step.attr] : [step.block, ...(step.labels ?? [])];
  return keys.map((key) => new RegExp(`"${escape(key)}"\\s*:`));
}

export function findLine(source: string, syntax: 'hcl' | 'json', locator: Locator): number | undefined {
  const lines = source.split('\n');
  const patterns = syntax === 'hcl' ? locator.map(hclPattern) : locator.flatMap(jsonPatterns);
  let at = 0;
  let found: number | undefined;
  for (const pattern of patterns) {
    found = undefined;
    for (let i = at; i < lines.length; i += 1) {
      if (pattern.test(lines[i]!)) {
        found = i;
        break;
      }
    }
    if (found === undefined) return undefined;
    at = found;
  }
  return found === undefined ? undefined : found + 1;
}
