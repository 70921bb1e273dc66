// The terraform version /health reports (seed 001). The operator's own binary runs once at start,
// outside any jail, with a clean environment and no tenant input.
import { execFile } from 'node:child_process';

export function terraformVersion(binary: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(binary, ['version', '-json'], { timeout: 10_000, env: { PATH: '/usr/local/bin:/usr/bin:/bin', CHECKPOINT_DISABLE: '1' } }, (error, stdout) => {
      if (error) {
        resolve(null); // not installed: /health says null and `confine doctor` explains
        return;
      }
      try {
        const parsed = JSON.parse(stdout) as { terraform_version?: unknown };
        resolve(typeof parsed.terraform_version === 'string' ? parsed.terraform_version : null);
      } catch {
        resolve(null); // output that is not `version -json`: reported as unknown, doctor checks the binary
      }
    });
  });
}
