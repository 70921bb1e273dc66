// Terraform inputs for the API tests: a configuration that plans one resource with no provider
// (terraform_data is built in), packed as the clients of the seeds would send it.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';

export const MAIN_TF = `
resource "terraform_data" "greeting" {
  input = "hello"
}

output "greeting" {
  value = terraform_data.greeting.input
}
`;

export async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'confine-api-tf-'));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  const out = join(dir, '..', `${dir.split('/').pop()}.tar.gz`);
  await create({ gzip: true, file: out, cwd: dir, portable: true }, Object.keys(files));
  return readFile(out);
}

export function multipart(fields: Record<string, string>, archive?: Buffer): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  if (archive) form.append('archive', new Blob([new Uint8Array(archive)], { type: 'application/gzip' }), 'config.tar.gz');
  return form;
}
