// AWS-shaped refusals, in the error format each protocol's SDK parses, so terraform prints a diagnostic
// naming the refused call ("api error AccessDenied: confine egress: ... ") instead of a parse error.
import type { AwsProtocol } from './types.js';

export interface Refusal {
  status: number;
  contentType: string;
  body: string;
}

const REQUEST_ID = 'confine-egress-refusal';

export function refusal(protocol: AwsProtocol, reason: string): Refusal {
  const message = `confine egress: ${reason}`;
  switch (protocol) {
    case 'json':
      return { status: 403, contentType: 'application/x-amz-json-1.1', body: JSON.stringify({ __type: 'AccessDeniedException', message }) };
    case 'ec2':
      return {
        status: 403,
        contentType: 'text/xml',
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>${xml(message)}</Message></Error></Errors><RequestID>${REQUEST_ID}</RequestID></Response>`,
      };
    case 'query':
      return {
        status: 403,
        contentType: 'text/xml',
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>${xml(message)}</Message></Error><RequestId>${REQUEST_ID}</RequestId></ErrorResponse>`,
      };
    case 'rest':
      return {
        status: 403,
        contentType: 'application/xml',
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>${xml(message)}</Message><RequestId>${REQUEST_ID}</RequestId></Error>`,
      };
  }
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
