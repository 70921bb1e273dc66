// Threat row 23 (and 5-8 at intake): hostile uploads are rejected or stripped before anything runs,
// each rejection a security_violation naming the offending path. Also the accepted formats themselves.
import { mkdtemp, mkdir, rm, symlink, writeFile, link } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { intake, intakeLimits } from '../../src/domains/terraform/intake/index.js';
import { DomainError } from '../../src/domains/errors.js';
import { buildTarGz, buildZip } from './support/archives.js';
import { files, runTerraform, testConfig } from './support/runner.js';

const VALID = 'resource "terraform_data" "a" {\n  input = "ok"\n}\n';

async function rejection(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

const limits = intakeLimits(testConfig());

describe('intake formats', () => {
  it('zip_with_module_beside_example_plans_in_working_dir', async () => {
    const zip = buildZip([
      { name: 'modules/thing/main.tf', content: 'variable "v" {}\nresource "terraform_data" "m" {\n  input = var.v\n}\n', deflate: true },
      { name: 'examples/basic/', mode: 0o040755 },
      { name: 'examples/basic/main.tf', content: 'module "thing" {\n  source = "../../modules/thing"\n  v      = "x"\n}\n', deflate: true },
    ]);
    const result = await runTerraform({ input: { kind: 'zip', data: zip }, working_dir: 'examples/basic' });
    expect(result.error).toBeNull();
    expect(result.summary?.resources.map((r) => r.address)).toEqual(['module.thing.terraform_data.m']);
  });

  it('tar_gz_upload_seeds_files_accepted', async () => {
    const data = buildTarGz([{ path: 'dir', type: 'Directory' }, { path: 'dir/main.tf', content: VALID }]);
    const out = await intake({ kind: 'tar.gz', data }, limits);
    expect(out.files.map((f) => f.path)).toEqual(['dir/main.tf']);
    expect(out.files[0]!.content.toString()).toBe(VALID);
  });

  it('directory_upload_reads_files_accepted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'confine-intake-'));
    try {
      await mkdir(join(dir, 'sub'));
      await writeFile(join(dir, 'sub', 'main.tf'), VALID);
      const out = await intake({ kind: 'directory', path: dir }, limits);
      expect(out.files.map((f) => f.path)).toEqual(['sub/main.tf']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('working_dir_outside_upload_is_security_violation', async () => {
    const result = await runTerraform({ input: files({ 'main.tf': VALID }), working_dir: '../..' });
    expect(result.error?.type).toBe('security_violation');
    expect(result.steps).toEqual([]);
  });
});

describe('intake attacks (threat row 23)', () => {
  it('zip_slip_entry_is_security_violation_naming_path', async () => {
    const zip = buildZip([{ name: '../../etc/cron.d/evil', content: '* * * * * root id' }, { name: 'main.tf', content: VALID }]);
    const result = await runTerraform({ input: { kind: 'zip', data: zip } });
    expect(result.error?.type).toBe('security_violation');
    expect(result.error?.detail).toBe('../../etc/cron.d/evil');
    expect(result.steps).toEqual([]);
  });

  it('zip_absolute_path_is_security_violation', async () => {
    const error = await rejection(intake({ kind: 'zip', data: buildZip([{ name: '/etc/passwd', content: 'x' }]) }, limits));
    expect(error.type).toBe('security_violation');
    expect(error.detail).toBe('/etc/passwd');
  });

  it('zip_symlink_to_root_is_security_violation', async () => {
    const zip = buildZip([{ name: 'evil', content: '/', mode: 0o120777 }, { name: 'main.tf', content: VALID }]);
    const result = await runTerraform({ input: { kind: 'zip', data: zip } });
    expect(result.error?.type).toBe('security_violation');
    expect(result.error?.detail).toBe('evil');
  });

  it('zip_bomb_ratio_is_security_violation', async () => {
    const zip = buildZip([{ name: 'main.tf', content: VALID }, { name: 'bomb.txt', content: Buffer.alloc(4 * 1024 * 1024), deflate: true }]);
    const error = await rejection(intake({ kind: 'zip', data: zip }, limits));
    expect(error.type).toBe('security_violation');
    expect(error.message).toMatch(/expands more than/);
    expect(error.detail).toBe('bomb.txt');
  });

  it('zip_lying_size_header_is_caught_from_inflated_bytes', async () => {
    // The central directory claims 10 bytes; the data inflates to 3 MiB. yauzl validates sizes, we count bytes.
    const zip = buildZip([{ name: 'big.tf', content: Buffer.alloc(3 * 1024 * 1024, 0x20), deflate: true }]);
    const patched = Buffer.from(zip);
    const central = patched.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    patched.writeUInt32LE(10, central + 24);
    patched.writeUInt32LE(10, 22);
    const error = await rejection(intake({ kind: 'zip', data: patched }, { ...limits, maxCompressionRatio: 100_000 }));
    expect(error.type).toBe('security_violation');
    expect(error.message).toMatch(/size does not match/);
  });

  it('tar_symlink_is_security_violation', async () => {
    const data = buildTarGz([{ path: 'main.tf', content: VALID }, { path: 'modules', type: 'SymbolicLink', linkpath: '/' }]);
    const error = await rejection(intake({ kind: 'tar.gz', data }, limits));
    expect(error.type).toBe('security_violation');
    expect(error.detail).toBe('modules -> /');
  });

  it('tar_hardlink_is_security_violation', async () => {
    const data = buildTarGz([{ path: 'main.tf', content: VALID }, { path: 'shadow', type: 'Link', linkpath: '/etc/shadow' }]);
    const error = await rejection(intake({ kind: 'tar.gz', data }, limits));
    expect(error.type).toBe('security_violation');
    expect(error.detail).toBe('shadow -> /etc/shadow');
  });

  it('tar_device_is_security_violation', async () => {
    const data = buildTarGz([{ path: 'main.tf', content: VALID }, { path: 'kmem', type: 'CharacterDevice' }]);
    const error = await rejection(intake({ kind: 'tar.gz', data }, limits));
    expect(error.type).toBe('security_violation');
    expect(error.detail).toBe('kmem');
  });

  it('tar_dotdot_path_is_security_violation', async () => {
    const data = buildTarGz([{ path: 'a/../../escape.tf', content: VALID }]);
    const error = await rejection(intake({ kind: 'tar.gz', data }, limits));
    expect(error.type).toBe('security_violation');
    expect(error.detail).toBe('a/../../escape.tf');
  });

  it('gzip_bomb_is_security_violation', async () => {
    const data = buildTarGz([{ path: 'main.tf', content: VALID }, { path: 'zeros', content: '\0'.repeat(30 * 1024 * 1024) }]);
    const error = await rejection(intake({ kind: 'tar.gz', data }, limits));
    expect(error.type).toBe('security_violation');
    expect(error.message).toMatch(/compression bomb|larger than/);
  });

  it('huge_file_count_is_security_violation', async () => {
    const map: Record<string, string> = {};
    for (let i = 0; i <= limits.maxFiles; i += 1) map[`f${i}.txt`] = '';
    const error = await rejection(intake(files(map), limits));
    expect(error.type).toBe('security_violation');
    expect(error.message).toMatch(/more than \d+ entries/);
  });

  it('deep_nesting_is_security_violation', async () => {
    const deep = `${Array.from({ length: limits.maxDepth + 1 }, (_, i) => `d${i}`).join('/')}/main.tf`;
    const error = await rejection(intake(files({ [deep]: VALID }), limits));
    expect(error.type).toBe('security_violation');
    expect(error.detail).toBe(deep);
  });

  it('oversized_single_file_is_security_violation', async () => {
    const error = await rejection(intake(files({ 'big.tf': 'x'.repeat(limits.maxFileBytes + 1) }), limits));
    expect(error.type).toBe('security_violation');
    expect(error.detail).toBe('big.tf');
  });

  it('directory_with_symlink_is_security_violation', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'confine-intake-'));
    try {
      await writeFile(join(dir, 'main.tf'), VALID);
      await symlink('/etc/shadow', join(dir, 'creds.tf'));
      const error = await rejection(intake({ kind: 'directory', path: dir }, limits));
      expect(error.type).toBe('security_violation');
      expect(error.detail).toBe('creds.tf');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('directory_with_hardlink_is_security_violation', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'confine-intake-'));
    try {
      await writeFile(join(dir, 'main.tf'), VALID);
      await link(join(dir, 'main.tf'), join(dir, 'copy.tf'));
      const error = await rejection(intake({ kind: 'directory', path: dir }, limits));
      expect(error.type).toBe('security_violation');
      expect(error.message).toMatch(/hardlink/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('forbidden_files_are_stripped_by_default_and_rejected_by_policy', async () => {
    const upload = {
      'main.tf': VALID,
      '.terraform/providers/registry.terraform.io/hashicorp/null/3.2.0/linux_amd64/terraform-provider-null_v3.2.0': '#!/bin/sh\nid > /tmp/pwned\n',
      'terraform.d/plugins/x/y': 'binary',
      'terraform.tfstate': '{}',
      'terraform.tfstate.backup': '{}',
      'terraform.tfstate.d/dev/terraform.tfstate': '{}',
      '.terraformrc': 'provider_installation { direct {} }',
      'evil.tfrc': 'x',
      '.netrc': 'machine github.com login x password y',
      '.git/config': '[core]\n\tsshCommand = id',
      '.gitmodules': 'x',
      '.terraform.lock.hcl': 'provider "registry.terraform.io/hashicorp/null" {}',
    };
    const stripped = await intake(files(upload), limits);
    expect(stripped.files.map((f) => f.path)).toEqual(['main.tf']);
    expect(stripped.stripped.sort()).toEqual(Object.keys(upload).filter((p) => p !== 'main.tf').sort());

    const rejected = await runTerraform({ input: files(upload) }, { TF_FORBIDDEN_FILES: 'reject' });
    expect(rejected.error?.type).toBe('security_violation');
    expect(rejected.error?.detail).toMatch(/^\.terraform\/providers\//);
    expect(rejected.steps).toEqual([]);
  });
});
