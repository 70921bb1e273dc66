// The real JailHost with every JailSpec recorded on its way in (all other members are the host's own):
// tests read what each jail was given (environment, argv, mounts, network, seccomp profile).
import type { JailHost } from '../../../src/jail/host.js';
import type { RunOptions } from '../../../src/jail/run.js';
import type { JailSpec } from '../../../src/jail/spec.js';
import type { Workspace } from '../../../src/jail/workspace.js';

export function recordingHost(host: JailHost, specs: JailSpec[]): JailHost {
  return new Proxy(host, {
    get(target, prop, receiver) {
      if (prop === 'run') {
        return (spec: JailSpec, ws?: Workspace, options?: RunOptions) => {
          specs.push(spec);
          return target.run(spec, ws, options);
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
