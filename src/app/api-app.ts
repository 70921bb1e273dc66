// The HTTP app as every role that serves it builds it (embedded `serve`, `--role api|all`): the service's
// description for /health and the docs, and the Fastify app built and made ready from the API's ports.
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { buildApp } from '../api/app.js';
import type { ApiDeps } from '../api/ports.js';
import type { Config } from '../config/settings.js';
import { terraformVersion } from './terraform-version.js';

export async function serviceInfo(config: Readonly<Config>, version: string, cgroupVersion: string): Promise<ApiDeps['info']> {
  return { name: 'confine', version, terraformVersion: await terraformVersion(config.terraformBin), cgroupVersion, startedAt: new Date() };
}

export async function readyApp(deps: ApiDeps, options: { logger?: boolean; logStream?: DestinationStream }): Promise<FastifyInstance> {
  const app = await buildApp(deps, {
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.logStream === undefined ? {} : { logStream: options.logStream }),
  });
  await app.ready();
  return app;
}
