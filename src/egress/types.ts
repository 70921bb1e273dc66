// The egress proxy's contract (issue 11): what the Terraform pipeline hands it and what it reports.

/** The run's real AWS credentials. They live in the service's memory only; no jail ever sees them. */
export interface AwsCredentials {
  aws_access_key_id: string;
  aws_secret_access_key: string;
  aws_session_token?: string;
}

/**
 * What a run may call. `services` and `regions` are exact names from the SigV4 scope. `actions` are extra
 * allowed calls on top of the read-only default, each `service:Action` with an optional trailing `*`
 * (REST services name the HTTP method: `s3:PUT`).
 */
export interface EgressPolicy {
  services: readonly string[];
  regions: readonly string[];
  actions: readonly string[];
}

/** Per-run budget: calls answered (allowed or not), bytes relayed both ways, and ms per forwarded call. */
export interface EgressCaps {
  requests: number;
  bytes: number;
  ms: number;
}

/** One call as the run's result and the audit log show it. */
export interface EgressCall {
  service: string;
  action: string;
  region: string;
  method: string;
  /** HTTP status sent back to the jail (0 when the answer was cut off before a status). */
  status: number;
  /** Bytes relayed: request body up plus response body down. */
  bytes: number;
  ms: number;
  allowed: boolean;
  /** Why the call was refused or cut off; absent for a call answered in full. */
  reason?: string;
}

export interface EgressProxyOptions {
  /** Unix socket the proxy listens on (the door relays the jail's TCP connections here). */
  socketPath: string;
  credentials: AwsCredentials;
  policy: EgressPolicy;
  caps: EgressCaps;
  /** Send every call to this origin instead of the real regional endpoint (TF_EGRESS_UPSTREAM_URL). */
  upstream?: string;
  onCall?: (call: EgressCall) => void;
  /**
   * Owner of the socket file. Without it the socket is 0600 to the service; with it, 0660 owned by this
   * uid/gid, so the door (which connects after dropping to that uid) may connect and no other uid may.
   */
  socketOwner?: { uid: number; gid: number };
}

export interface EgressProxy {
  calls(): EgressCall[];
  close(): Promise<void>;
}

/** How the caller encoded the operation; it decides where the action is read and how a refusal looks. */
export type AwsProtocol = 'query' | 'ec2' | 'json' | 'rest';
