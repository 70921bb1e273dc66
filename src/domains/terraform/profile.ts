// The terraform profile: the terraform binary, the read-only provider mirror, a read-only service-owned
// CLI configuration, the workspace and /tmp. No shell, no libc, no /proc, /sys or /dev, no network
// (AF_UNIX only, for provider gRPC). Everything terraform reads from its environment is set here.
import type { JailLimits, JailSpec, Mount } from '../../jail/spec.js';

export const TERRAFORM_WORKSPACE = '/workspace';
export const TERRAFORM_BIN_IN_JAIL = '/usr/local/bin/terraform';
/** The mirror's fixed path inside the jail; `init` links providers to it (never copies them). */
export const MIRROR_IN_JAIL = '/opt/tf-plugins';
export const CLI_CONFIG_IN_JAIL = '/etc/confine/terraform.rc';
/** Empty and read-only: no tenant `.terraformrc`, credentials file or plugin dir can appear in HOME. */
export const HOME_IN_JAIL = '/home/sandbox';
/** In the jail's /tmp, which persists across the steps of one workspace but is not in the upload. */
export const TF_DATA_DIR_IN_JAIL = '/tmp/terraform-data';
export const PLAN_FILE_IN_JAIL = '/tmp/confine.tfplan';

export interface TerraformProfile {
  /** Host path of the terraform binary (resolved, not a symlink). */
  terraformHostPath: string;
  /** Host path of the provider mirror, or '' when there is none (then no provider can be installed). */
  mirrorHostPath: string;
}

/**
 * Threat rows 4, 6, 7: only the filesystem mirror, and no `direct` block, so init can never reach a
 * registry (attacker hosts included) nor pick up an implied local mirror (`terraform.d/plugins`).
 * Without a mirror the block stays (an absent block would mean "registry + implied mirrors"), naming
 * a path that does not exist for a host that cannot exist: no provider installs at all.
 */
export function cliConfig(profile: TerraformProfile): string {
  if (profile.mirrorHostPath === '') {
    return 'provider_installation {\n  filesystem_mirror {\n    path    = "/nonexistent"\n    include = ["none.invalid/*/*"]\n  }\n}\n';
  }
  return [
    'provider_installation {',
    '  filesystem_mirror {',
    `    path    = "${MIRROR_IN_JAIL}"`,
    '    include = ["registry.terraform.io/*/*"]',
    '  }',
    '}',
    '',
  ].join('\n');
}

export function terraformMounts(profile: TerraformProfile): Mount[] {
  const mounts: Mount[] = [
    { kind: 'ro-bind', source: profile.terraformHostPath, target: TERRAFORM_BIN_IN_JAIL },
    { kind: 'file', target: CLI_CONFIG_IN_JAIL, content: cliConfig(profile) },
    { kind: 'dir', target: HOME_IN_JAIL },
  ];
  if (profile.mirrorHostPath !== '') mounts.push({ kind: 'ro-bind', source: profile.mirrorHostPath, target: MIRROR_IN_JAIL });
  return mounts;
}

/**
 * Threat row 7: the complete environment. Nothing comes from the caller (no TF_CLI_ARGS*, TF_PLUGIN_CACHE_DIR,
 * proxies, GIT_*). No real credentials ever: an egress plan step adds placeholders and the door's URL.
 */
export function terraformEnvironment(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    HOME: HOME_IN_JAIL,
    TF_CLI_CONFIG_FILE: CLI_CONFIG_IN_JAIL,
    TF_DATA_DIR: TF_DATA_DIR_IN_JAIL,
    CHECKPOINT_DISABLE: '1',
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    TMPDIR: '/tmp',
    // No instance-metadata lookups: there is no such service in any jail, and the SDK's IMDS attempts and
    // retries made a plan needing AWS without credentials wait before failing (issue 11).
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

export interface TerraformStepSpec {
  args: string[];
  /** Directory inside the workspace where terraform runs (relative, already validated). */
  workingDir: string;
  limits: JailLimits;
  extraEnv?: Readonly<Record<string, string>>;
}

export function terraformSpec(profile: TerraformProfile, step: TerraformStepSpec): JailSpec {
  const cwd = step.workingDir === '' || step.workingDir === '.' ? TERRAFORM_WORKSPACE : `${TERRAFORM_WORKSPACE}/${step.workingDir}`;
  return {
    argv: [TERRAFORM_BIN_IN_JAIL, ...step.args],
    env: terraformEnvironment(step.extraEnv),
    cwd,
    mounts: terraformMounts(profile),
    workspacePath: TERRAFORM_WORKSPACE,
    seccompProfile: 'terraform',
    limits: step.limits,
  };
}
