// A fake AWS upstream on 127.0.0.1:0 for the egress tests: it answers the calls the AWS provider 5.100.0
// makes for aws_caller_identity, aws_availability_zones, aws_ami, aws_vpc and aws_s3_object (path-style),
// and verifies every request's SigV4 signature against the REAL test credentials first: a request signed
// with anything else (the jail's placeholder keys) gets 403 SignatureDoesNotMatch, as AWS would answer.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AwsCredentials } from '../../src/egress/types.js';
import * as bodies from './fake-aws-bodies.js';
import { verifySignature } from './fake-sigv4.js';

export interface FakeRequest {
  method: string;
  path: string;
  service: string;
  region: string;
  action: string;
  signatureOk: boolean;
  reason?: string;
  headers: Record<string, string>;
  body: string;
}

export interface FakeAws {
  url: string;
  requests: FakeRequest[];
  /** S3 objects served path-style: key `bucket/key`. */
  objects: Map<string, { body: string; contentType: string }>;
  /** Extra bytes added to every ec2 answer (to push a run over its byte cap). */
  padBytes: number;
  /** Delay (ms) before every answer (to run a call past its time cap). */
  delayMs: number;
  /** Connections open to the fake right now (a closed proxy must leave none). */
  connections(): Promise<number>;
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;

export async function startFakeAws(credentials: AwsCredentials): Promise<FakeAws> {
  const fake: FakeAws = { url: '', requests: [], objects: new Map(), padBytes: 0, delayMs: 0, connections: () => Promise.resolve(0), close: () => Promise.resolve() };
  const server: Server = createServer((req, res) => {
    readBody(req)
      .then((body) => answer(fake, credentials, req, body, res))
      .catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  fake.url = `http://127.0.0.1:${port}`;
  fake.connections = () => new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
  fake.close = () =>
    new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((error) => (error ? reject(error) : resolve()));
    });
  return fake;
}

async function answer(fake: FakeAws, credentials: AwsCredentials, req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://fake');
  const verdict = await verifySignature(req, body, credentials);
  const form = new URLSearchParams(body.toString('utf8'));
  const target = req.headers['x-amz-target'];
  const action = form.get('Action') ?? url.searchParams.get('Action') ?? (typeof target === 'string' ? target : (req.method ?? ''));
  const record: FakeRequest = {
    method: req.method ?? '',
    path: url.pathname,
    service: verdict.ok ? verdict.scope.service : '',
    region: verdict.ok ? verdict.scope.region : '',
    action,
    signatureOk: verdict.ok,
    headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')])),
    body: body.toString('utf8'),
    ...(verdict.ok ? {} : { reason: verdict.reason }),
  };
  fake.requests.push(record);
  if (fake.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, fake.delayMs));
  if (!verdict.ok) {
    send(res, 403, 'text/xml', bodies.queryError('SignatureDoesNotMatch', `fake-aws: ${verdict.reason}`));
    return;
  }
  const { service, region } = verdict.scope;
  if (service === 'sts' && action === 'GetCallerIdentity') return send(res, 200, 'text/xml', bodies.callerIdentity(credentials.aws_access_key_id));
  if (service === 'ec2') return ec2(fake, res, action, region, form);
  if (service === 's3') return s3(fake, req, res, (req.url ?? '/').split('?')[0] ?? '/');
  send(res, 400, 'text/xml', bodies.queryError('InvalidAction', `fake-aws does not implement ${service}:${action}`));
}

function ec2(fake: FakeAws, res: ServerResponse, action: string, region: string, form: URLSearchParams): void {
  const pad = fake.padBytes > 0 ? `<!--${'x'.repeat(fake.padBytes)}-->` : '';
  const vpcId = form.get('VpcId') ?? 'vpc-0a1b2c3d4e5f67890';
  const xml: Record<string, () => string> = {
    DescribeAvailabilityZones: () => bodies.availabilityZones(region),
    DescribeImages: () => bodies.images(),
    DescribeVpcs: () => bodies.vpcs(),
    DescribeVpcAttribute: () => bodies.vpcAttribute(vpcId, form.get('Attribute') ?? 'enableDnsSupport'),
    DescribeRouteTables: () => bodies.routeTables(vpcId),
    GetInstanceUefiData: () => bodies.instanceUefiData(form.get('InstanceId') ?? ''),
  };
  const make = xml[action];
  if (make === undefined) return send(res, 400, 'text/xml', bodies.ec2Error('InvalidAction', `fake-aws does not implement ec2:${action}`));
  send(res, 200, 'text/xml', make() + pad);
}

function s3(fake: FakeAws, req: IncomingMessage, res: ServerResponse, path: string): void {
  const key = decodeURIComponent(path.replace(/^\//, ''));
  const object = fake.objects.get(key);
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'application/xml', bodies.s3Error('MethodNotAllowed', 'fake-aws serves reads only'));
  if (object === undefined) return send(res, 404, 'application/xml', bodies.s3Error('NoSuchKey', `no object ${key}`), req.method === 'HEAD');
  res.statusCode = 200;
  res.setHeader('content-type', object.contentType);
  res.setHeader('content-length', Buffer.byteLength(object.body));
  res.setHeader('etag', '"0123456789abcdef0123456789abcdef"');
  res.setHeader('last-modified', 'Thu, 12 Dec 2024 20:19:37 GMT');
  res.end(req.method === 'HEAD' ? undefined : object.body);
}

function send(res: ServerResponse, status: number, contentType: string, body: string, headOnly = false): void {
  res.statusCode = status;
  res.setHeader('content-type', contentType);
  res.setHeader('content-length', Buffer.byteLength(body));
  res.setHeader('x-amzn-requestid', '7a62c49f-347e-4fc4-9331-6e8eEXAMPLE');
  res.end(headOnly ? undefined : body);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) req.destroy(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
