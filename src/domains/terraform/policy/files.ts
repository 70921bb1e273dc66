// Which files of a module directory are configuration. Kept apart from parse.ts so the service process can
// ask without loading the HCL parser (which only ever runs in the analysis jail).

/** Terraform reads `*.tf` and `*.tf.json` in a module directory, ignoring hidden and editor files. */
export function isConfigFile(name: string): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1);
  if (base.startsWith('.') || base.startsWith('#') || base.endsWith('~')) return false;
  return base.endsWith('.tf') || base.endsWith('.tf.json');
}
