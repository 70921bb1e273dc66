// The closed set of error classes every result carries (the seeds' classification). A failing user
// program is still a completed run; these classify why a request did not produce what it asked for.
export const ERROR_CLASSES = [
  'validation_error',
  'provider_error',
  'execution_timeout',
  'security_violation',
  'resource_limit',
  'unknown_error',
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

export interface ClassifiedError {
  type: ErrorClass;
  message: string;
  /** e.g. the offending path, token or rule; never a secret. */
  detail?: string;
}

/** Thrown at the edge (intake, tokenizer, policy, limits) and turned into a result, never a crash. */
export class DomainError extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly type: ErrorClass,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }

  toJSON(): ClassifiedError {
    return { type: this.type, message: this.message, ...(this.detail === undefined ? {} : { detail: this.detail }) };
  }
}
