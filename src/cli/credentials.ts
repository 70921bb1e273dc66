// Where `confine plan` gets the run's AWS credentials: a JSON file (--credentials-file) or the CLI's own
// AWS_* environment (--aws-env). Checked here, at the edge, by the same rule as the HTTP API's
// `credentials` (checkCredentials), so a typo is a clear usage error before any jail starts.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import secureJson from 'secure-json-parse';
import { checkCredentials } from '../domains/terraform/credentials.js';
import type { AwsCredentials } from '../domains/terraform/types.js';

/** A credentials file is three short strings; anything larger is not one (and is not read whole). */
export const CREDENTIALS_FILE_MAX_BYTES = 64 * 1024;

export class CredentialsError extends Error {}

export interface LoadedCredentials {
  credentials: AwsCredentials;
  /** Said on stderr, the run still goes ahead (e.g. a file other users can read). */
  warnings: string[];
}

/**
 * Reads `{ aws_access_key_id, aws_secret_access_key, aws_session_token? }` from `path`. O_NOFOLLOW and a
 * size bound: the file is the operator's, but a wrong path (a FIFO, /dev/zero, a huge log) must fail fast
 * instead of hanging or filling memory.
 */
export async function credentialsFromFile(path: string): Promise<LoadedCredentials> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((error: NodeJS.ErrnoException) => {
    throw new CredentialsError(`--credentials-file ${path}: cannot be opened (${error.code ?? error.message})`);
  });
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new CredentialsError(`--credentials-file ${path}: not a regular file`);
    if (info.size > CREDENTIALS_FILE_MAX_BYTES) throw new CredentialsError(`--credentials-file ${path}: larger than ${CREDENTIALS_FILE_MAX_BYTES} bytes`);
    const buffer = Buffer.alloc(CREDENTIALS_FILE_MAX_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > CREDENTIALS_FILE_MAX_BYTES) throw new CredentialsError(`--credentials-file ${path}: larger than ${CREDENTIALS_FILE_MAX_BYTES} bytes`);
    const credentials = parseCredentials(buffer.subarray(0, bytesRead).toString('utf8'), `--credentials-file ${path}`);
    const warnings = (info.mode & 0o044) === 0 ? [] : [`${path} is readable by other users (chmod 600 ${path}): the secret in it is not only yours`];
    return { credentials, warnings };
  } finally {
    await handle.close();
  }
}

/** `--aws-env`: the variables the AWS CLI and SDKs read, taken from this process's environment. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv): LoadedCredentials {
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  const token = env.AWS_SESSION_TOKEN;
  if (!id || !secret) throw new CredentialsError('--aws-env needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment');
  const candidate = { aws_access_key_id: id, aws_secret_access_key: secret, ...(token ? { aws_session_token: token } : {}) };
  return { credentials: checked(candidate, '--aws-env'), warnings: [] };
}

function parseCredentials(text: string, source: string): AwsCredentials {
  let document: unknown;
  try {
    // secure-json-parse: a __proto__ key is refused, not merged into the object.
    document = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    throw new CredentialsError(`${source}: not valid JSON (${(error as Error).message})`);
  }
  return checked(document, source);
}

function checked(document: unknown, source: string): AwsCredentials {
  const check = checkCredentials(document);
  // The message names the field, never its value: the value may be the secret.
  if (!check.ok) throw new CredentialsError(`${source}: ${check.message}`);
  return check.credentials;
}
