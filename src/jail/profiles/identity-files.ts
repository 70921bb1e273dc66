import { SANDBOX_GID, SANDBOX_UID, SANDBOX_USER } from '../bwrap-args.js';
import type { Mount } from '../spec.js';

/** Minimal account database so `id`, `whoami` and `ls -l` can name the jail's user. */
export function identityFiles(home: string): Mount[] {
  return [
    {
      kind: 'file',
      target: '/etc/passwd',
      content: `root:x:0:0:root:/:/usr/sbin/nologin\n${SANDBOX_USER}:x:${SANDBOX_UID}:${SANDBOX_GID}:${SANDBOX_USER}:${home}:/usr/bin/sh\n`,
    },
    { kind: 'file', target: '/etc/group', content: `root:x:0:\n${SANDBOX_USER}:x:${SANDBOX_GID}:\n` },
  ];
}
