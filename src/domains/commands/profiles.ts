// Shell profiles per program set, resolved once (ldd runs here, never per request) and cached for the
// runner's life. Reduced capability: a command's jail holds only its own program; a script's jail holds
// exactly the allowlist. A program that is not in the set does not exist inside the jail.
import type { ProgramSource } from '../../jail/profiles/host-programs.js';
import { buildExactProfile, type ShellProfile } from '../../jail/profiles/shell.js';

export class ProfileCache {
  private readonly profiles = new Map<string, Promise<ShellProfile>>();

  constructor(private readonly source: ProgramSource) {}

  /** The profile holding exactly `programs` (unlike buildShellProfile, `sh` only when asked for). */
  get(programs: readonly string[]): Promise<ShellProfile> {
    const names = [...new Set(programs)].sort();
    const key = names.join('\0');
    let profile = this.profiles.get(key);
    if (!profile) {
      profile = buildExactProfile(names, this.source);
      // A failed build (program missing on the host) is not cached: the operator may install it.
      profile.catch(() => this.profiles.delete(key));
      this.profiles.set(key, profile);
    }
    return profile;
  }
}
