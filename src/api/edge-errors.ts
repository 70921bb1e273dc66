// Errors raised before a route runs (HTTP parser errors, timeouts, a malformed URL, a refused
// connection) answer in the catalogue's JSON shape like every other error, never in node's or
// Fastify's default bodies, so clients branch on one set of codes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CATALOGUE, errorBody, type ErrorCode } from './errors.js';

/** A complete HTTP/1.1 error response for a socket no route owns; the connection is closed after it. */
export function rawErrorResponse(code: ErrorCode, detail?: string): string {
  const { status } = ERROR_CATALOGUE[code];
  const body = JSON.stringify(errorBody(code, detail));
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    'content-type: application/json; charset=utf-8\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    'x-content-type-options: nosniff\r\ncache-control: no-store\r\nconnection: close\r\n\r\n' +
    body
  );
}

/** Whether a response has started on this socket (then nothing more may be written to it). */
export function responseStarted(socket: Socket): boolean {
  // node keeps the response being written as `_httpMessage` (its own clientError handling checks it too).
  const current = (socket as Socket & { _httpMessage?: ServerResponse<IncomingMessage> | null })._httpMessage;
  return current?.headersSent === true;
}

/** Writes the error (when nothing else is being written) and closes the socket once it is flushed. */
export function answerAndClose(socket: Socket, code: ErrorCode, detail?: string): void {
  if (socket.destroyed) return;
  if (!socket.writable || responseStarted(socket)) {
    socket.destroy();
    return;
  }
  // A client that never reads could hold the write open: the timer closes it regardless.
  const timer = setTimeout(() => socket.destroy(), 1000);
  timer.unref();
  socket.end(rawErrorResponse(code, detail), () => {
    clearTimeout(timer);
    socket.destroy();
  });
}

/** The catalogue code of an error node's HTTP server reports on a connection ('clientError'). */
export function clientErrorCode(error: Error & { code?: string }): { code: ErrorCode; detail?: string } {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: 'request_timeout' };
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'headers_too_large' };
    default:
      // HPE_INVALID_HEADER_TOKEN, HPE_INVALID_METHOD, HPE_UNEXPECTED_CONTENT_LENGTH...: a stable code, the
      // parser's name for the fault as detail (never the bytes the client sent).
      return { code: 'bad_request', detail: `HTTP parse error${error.code ? ` (${error.code})` : ''}` };
  }
}

/** Fastify's `clientErrorHandler`: parser errors and node's header/request timeouts. */
export function clientErrorHandler(log: () => FastifyBaseLogger): (error: Error & { code?: string }, socket: Socket) => void {
  return (error, socket) => {
    // A reset connection has nobody to answer (node's documented case).
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const { code, detail } = clientErrorCode(error);
    log().debug({ code: error.code, answer: code }, 'client error');
    answerAndClose(socket, code, detail);
  };
}

/** Fastify's `frameworkErrors`: errors found while routing (a malformed URL), before any hook runs. */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  let code: ErrorCode = 'internal_error';
  let detail: string | undefined;
  if (error.code === 'FST_ERR_BAD_URL') {
    code = 'invalid_url';
    detail = 'bad percent-encoding in the path';
  } else if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    code = 'invalid_url';
    detail = 'a path parameter is too long';
  } else {
    request.log.error({ err: error }, 'routing failed');
  }
  void reply.code(ERROR_CATALOGUE[code].status).send(errorBody(code, detail, request.id));
}
