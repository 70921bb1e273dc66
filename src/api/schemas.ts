// TypeBox schemas: they validate requests at the edge (unknown fields are rejected, not dropped) and
// generate the OpenAPI document. Static<> gives the handler types from the same source.
import { Type, type Static, type TSchema, type TString } from '@sinclair/typebox';
import { CREDENTIAL_LIMITS, CREDENTIAL_PATTERNS } from '../domains/terraform/credentials.js';
import { ERROR_CODES } from './errors.js';

const Id = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' });
const RelPath = Type.String({ minLength: 1, maxLength: 1024 });
/**
 * A hard ceiling on a files map's keys, checked by the schema before any per-key work (a 350k-key map
 * used to pass and cost 35-40 MiB and a 1-2 s event-loop stall in the worker); the configured, lower
 * limits (TF_MAX_FILES, EXEC_MAX_INPUT_FILES) are checked by the handlers right after.
 */
export const FILES_MAX_PROPERTIES = 10_000;
const Files = Type.Record(Type.String({ minLength: 1, maxLength: 1024 }), Type.String(), {
  maxProperties: FILES_MAX_PROPERTIES,
  description: 'Files written into the workspace before the run: `{ "path/in/workspace": "content" }`.',
});

/** One rule for credentials everywhere: the lengths and charsets come from the domain's checkCredentials. */
const credentialField = (field: keyof typeof CREDENTIAL_LIMITS): TString =>
  Type.String({ minLength: CREDENTIAL_LIMITS[field].min, maxLength: CREDENTIAL_LIMITS[field].max, pattern: CREDENTIAL_PATTERNS[field] });

export const Credentials = Type.Object(
  {
    aws_access_key_id: credentialField('aws_access_key_id'),
    aws_secret_access_key: credentialField('aws_secret_access_key'),
    aws_session_token: Type.Optional(credentialField('aws_session_token')),
  },
  {
    additionalProperties: false,
    description: 'Short-lived AWS credentials for a plan. They never enter a jail: with TF_EGRESS=aws the host-side egress proxy signs the plan\'s allowlisted read-only calls with them; with egress off a plan that needs the AWS provider and carries credentials is refused (validation_error). Redacted from every output.',
  },
);

const CommandInputs = {
  files: Type.Optional(Files),
  stdin: Type.Optional(Type.String({ maxLength: 1024 * 1024 })),
  cwd: Type.Optional(RelPath),
  timeout_seconds: Type.Optional(Type.Number({ minimum: 0.001 })),
  memory_mib: Type.Optional(Type.Integer({ minimum: 1 })),
  max_pids: Type.Optional(Type.Integer({ minimum: 1 })),
  session_id: Type.Optional(Id),
};

export const CommandBody = Type.Object(
  { command: Type.String({ minLength: 1, maxLength: 8192, description: 'One command line; tokenized, never given to a shell.' }), ...CommandInputs },
  { additionalProperties: false },
);
export type CommandBody = Static<typeof CommandBody>;

export const ScriptBody = Type.Object(
  { script: Type.String({ minLength: 1, maxLength: 256 * 1024, description: 'Run under sh in a jail holding only allowlisted programs.' }), ...CommandInputs },
  { additionalProperties: false },
);
export type ScriptBody = Static<typeof ScriptBody>;

const Mode = Type.Union([Type.Literal('validate'), Type.Literal('plan')], { default: 'plan' });

export const TerraformBody = Type.Object(
  {
    files: Type.Optional(Files),
    workspace_reference: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'A stored archive (`upload_id` or the reference returned by /api/v1/uploads).' })),
    mode: Type.Optional(Mode),
    working_dir: Type.Optional(RelPath),
    credentials: Type.Optional(Credentials),
  },
  { additionalProperties: false, description: 'Exactly one of `files` or `workspace_reference`. For an archive upload use /api/v1/runs/terraform/archive.' },
);
export type TerraformBody = Static<typeof TerraformBody>;

export const ArchiveForm = Type.Object(
  {
    archive: Type.String({ format: 'binary', description: 'A .zip or .tar.gz of the configuration.' }),
    mode: Type.Optional(Mode),
    working_dir: Type.Optional(RelPath),
    credentials: Type.Optional(Type.String({ description: 'JSON object with aws_access_key_id, aws_secret_access_key, aws_session_token.' })),
  },
  { required: ['archive'] },
);

export const WaitQuery = Type.Object(
  { wait: Type.Optional(Type.Boolean({ default: false, description: 'Wait for the result (200) instead of answering 202 with a Location.' })) },
  { additionalProperties: false },
);
export type WaitQuery = Static<typeof WaitQuery>;

export const IdParams = Type.Object({ id: Id });
export type IdParams = Static<typeof IdParams>;

export const ClassifiedErrorSchema = Type.Object({
  type: Type.String(),
  message: Type.String(),
  detail: Type.Optional(Type.String()),
});

/** One cloud API call of a Terraform plan through the egress proxy (`result.egress[]`, TF_EGRESS=aws only). */
export const EgressCallSchema = Type.Object(
  {
    service: Type.String({ description: 'AWS service from the call\'s SigV4 scope, e.g. `ec2`.' }),
    action: Type.String({ description: 'Operation (`DescribeVpcs`), or the HTTP method for REST services such as S3.' }),
    region: Type.String({ description: 'Region from the SigV4 scope.' }),
    method: Type.String({ description: 'HTTP method of the call.' }),
    status: Type.Integer({ description: 'HTTP status returned to terraform (403 for a refused call, 0 when cut off before a status).' }),
    bytes: Type.Integer({ description: 'Bytes relayed: request body up plus answer body down.' }),
    ms: Type.Number({ description: 'Time the proxy spent on the call.' }),
    allowed: Type.Boolean({ description: 'false: the proxy refused it (not allowlisted, not read-only, over a cap) and answered AccessDenied.' }),
    reason: Type.Optional(Type.String({ description: 'Why the call was refused or cut off.' })),
  },
  { additionalProperties: false },
);

export const RunView = Type.Object(
  {
    id: Type.String(),
    kind: Type.String({ enum: ['terraform', 'command', 'script'] }),
    state: Type.String({ enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled'] }),
    session_id: Type.Optional(Type.String()),
    created_at: Type.String(),
    started_at: Type.Optional(Type.String()),
    finished_at: Type.Optional(Type.String()),
    worker: Type.Optional(Type.String({ description: 'The id of the worker that ran the run (WORKER_ID; with many hosts, which host to look at).' })),
    error: Type.Union([ClassifiedErrorSchema, Type.Null()]),
    result: Type.Unknown({
      description: 'The domain result, the same fields as the CLI `--json` (null until the run finishes). A Terraform plan that ran with egress (TF_EGRESS=aws and credentials) also has `egress`: every cloud API call the proxy answered, each an EgressCall (service, action, region, method, status, bytes, ms, allowed, reason?); past TF_EGRESS_MAX_REQUESTS only a few refusals are listed and `egress_dropped` counts the rest.',
    }),
    plan_reference: Type.Optional(Type.String({ description: 'Where the plan JSON is stored (Terraform plan runs).' })),
    output_trimmed: Type.Optional(Type.Object(
      { kept_bytes: Type.Integer(), dropped_bytes: Type.Integer() },
      { description: 'Present when the record\'s stdout/stderr/diagnostics were cut to RUN_RECORD_MAX_BYTES; each cut stream is also flagged `*_truncated`.' },
    )),
    links: Type.Object({ self: Type.String(), cancel: Type.String(), plan: Type.Optional(Type.String()) }),
  },
  {},
);

export const ErrorSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ enum: ERROR_CODES }),
      message: Type.String(),
      detail: Type.Optional(Type.String()),
      request_id: Type.Optional(Type.String()),
    }),
  },
  {},
);

export const SessionView = Type.Object(
  { id: Type.String(), session_id: Type.String(), created_at: Type.String(), expires_at: Type.String(), ttl_seconds: Type.Number() },
  {},
);

export const SessionCreateBody = Type.Object(
  { session_id: Type.Optional(Id), name: Type.Optional(Id) },
  { additionalProperties: false, description: 'Seed 004: a client-chosen `session_id` makes creation idempotent.' },
);
export type SessionCreateBody = Static<typeof SessionCreateBody>;

export const UploadView = Type.Object({ upload_id: Type.String(), workspace_reference: Type.String() });

// Seed-compatible bodies.
/** Fields seeds 000 and 001 share; they differ only in how an uploaded archive is named. */
const seedTerraformFields = {
  job_id: Type.String({ minLength: 1, maxLength: 128 }),
  files: Type.Optional(Files),
  mode: Type.Optional(Mode),
  working_dir: Type.Optional(RelPath),
  credentials: Type.Optional(Credentials),
};
const ArchiveReference = Type.String({ minLength: 1, maxLength: 1024 });

export const InternalExecuteBody = Type.Object(
  { ...seedTerraformFields, workspace_reference: Type.Optional(ArchiveReference) },
  { additionalProperties: false },
);
export type InternalExecuteBody = Static<typeof InternalExecuteBody>;

export const V1ExecuteBody = Type.Object(
  { ...seedTerraformFields, upload_id: Type.Optional(ArchiveReference) },
  { additionalProperties: false },
);
export type V1ExecuteBody = Static<typeof V1ExecuteBody>;

export const ExecuteBody = Type.Object(
  {
    command: Type.String({ minLength: 1, maxLength: 8192 }),
    session_id: Type.Optional(Id),
    timeout: Type.Optional(Type.Number({ minimum: 0.001 })),
    working_dir: Type.Optional(RelPath),
  },
  { additionalProperties: false },
);
export type ExecuteBody = Static<typeof ExecuteBody>;

/** Any JSON value, documented as an object (plan JSON, seed results). */
export const AnyObject: TSchema = Type.Object({}, { additionalProperties: true });
