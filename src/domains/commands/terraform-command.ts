// `terraform validate -no-color` as a command (seed 002 2.3). Terraform is a Go program: it needs the
// terraform seccomp profile (epoll, AF_UNIX only) rather than the shell one. Its environment is owned by
// the service (threat catalog #5, #7): a read-only CLI config with no dev_overrides or installation
// methods, so a tenant `.terraformrc` in the workspace (HOME) is never read, and a data dir on the
// read-only root, so a shipped `.terraform/providers/...` in the workspace is never used.
import type { JailSpec } from '../../jail/spec.js';

const CLI_CONFIG_PATH = '/confine/terraform.rc';
const DATA_DIR = '/confine/terraform-data';

export function asTerraformSpec(spec: JailSpec): JailSpec {
  return {
    ...spec,
    seccompProfile: 'terraform',
    env: {
      ...spec.env,
      CHECKPOINT_DISABLE: '1',
      TF_IN_AUTOMATION: '1',
      TF_INPUT: '0',
      TF_CLI_CONFIG_FILE: CLI_CONFIG_PATH,
      TF_DATA_DIR: DATA_DIR,
    },
    mounts: [...spec.mounts, { kind: 'file', target: CLI_CONFIG_PATH, content: 'disable_checkpoint = true\n' }],
  };
}
