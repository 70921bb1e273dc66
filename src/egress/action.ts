// Names the operation a signed request performs, the way IAM would: the query protocol carries it as
// `Action=` (form body or query string), the JSON protocol in `X-Amz-Target`, and REST services (S3...)
// in the HTTP method, which is all the read-only rule needs from them.
import type { AwsProtocol } from './types.js';

export interface DetectedAction {
  protocol: AwsProtocol;
  action: string;
}

const ACTION_SHAPE = /^[A-Za-z][A-Za-z0-9]{0,127}$/;

export type ActionResult = { ok: true; detected: DetectedAction } | { ok: false; reason: string; protocol: AwsProtocol };

export interface ActionInput {
  service: string;
  method: string;
  query: URLSearchParams;
  contentType: string | undefined;
  target: string | undefined;
  body: Buffer;
}

export function detectAction(input: ActionInput): ActionResult {
  if (input.target !== undefined) return named('json', input.target.slice(input.target.lastIndexOf('.') + 1));
  const queryProtocol: AwsProtocol = input.service === 'ec2' ? 'ec2' : 'query';
  if (isForm(input.contentType)) {
    // A form body names one action; a second `Action` in the query string could disagree, so refuse it.
    const fromBody = new URLSearchParams(input.body.toString('utf8')).getAll('Action');
    const fromQuery = input.query.getAll('Action');
    if (fromBody.length + fromQuery.length !== 1) return { ok: false, reason: 'query-protocol request must name exactly one Action', protocol: queryProtocol };
    return named(queryProtocol, fromBody[0] ?? fromQuery[0] ?? '');
  }
  const fromQuery = input.query.getAll('Action');
  if (fromQuery.length > 1) return { ok: false, reason: 'query-protocol request must name exactly one Action', protocol: queryProtocol };
  if (fromQuery.length === 1 && input.method === 'GET') return named(queryProtocol, fromQuery[0] ?? '');
  const method = input.method.toUpperCase();
  // A "read" that carries a body could be a query-protocol write in disguise (no form content type).
  if ((method === 'GET' || method === 'HEAD') && input.body.length > 0) return { ok: false, reason: `${method} with a body is not relayed`, protocol: queryProtocol === 'ec2' ? 'ec2' : 'rest' };
  return { ok: true, detected: { protocol: 'rest', action: method } };
}

function named(protocol: AwsProtocol, action: string): ActionResult {
  if (!ACTION_SHAPE.test(action)) return { ok: false, reason: 'malformed action name', protocol };
  return { ok: true, detected: { protocol, action } };
}

function isForm(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.toLowerCase().startsWith('application/x-www-form-urlencoded');
}
