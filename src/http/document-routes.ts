// /v1/documents: a tenant's documents, one session per request.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  documentInput, documentListInput, documentPatch, type DocumentInput, type DocumentPatch,
} from '../stores/inputs.ts';
import type { Tenancy } from '../tenancy.ts';
import { pageQuery } from './page-query.ts';
import * as answer from './responses.ts';
import { fromZod, pathParams } from './schemas.ts';
import { found, inTenant } from './tenant-scope.ts';

const tags = ['documents'];
const security = [{ apiKey: [] }];
const byId = pathParams('id');

interface ById { Params: { id: string } }

// `?externalRef=` narrows the list to documents carrying that reference (a blind-index lookup);
// like the page keys, unknown keys are ignored.
const listQuery = z.object(documentListInput.shape);
type ListQuery = z.output<typeof listQuery>;
const listQueryJson = fromZod(listQuery);

/** Registers the document routes; the tenant comes from the API key checked before them. */
export function documentRoutes(tenancy: Tenancy) {
  const maxPage = tenancy.config.server.maxPageSize;
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: DocumentInput }>('/documents', {
      schema: {
        tags, security, summary: 'Create a document',
        body: fromZod(documentInput),
        response: answer.answers({ 201: answer.tenantDocument }),
      },
    }, async (request, reply) => {
      const created = await inTenant(tenancy, request, reply,
        (t) => t.documents.create(request.body));
      return reply.code(201).send(created);
    });

    app.get<{ Querystring: ListQuery }>('/documents', {
      schema: {
        tags, security,
        summary: 'List documents by id, without their text; ?externalRef= finds by reference',
        querystring: listQueryJson,
        response: answer.answers({ 200: answer.page(answer.documentSummary) }),
      },
    }, (request, reply) => {
      const { externalRef } = request.query;
      const page = pageQuery.capped(request.query, maxPage);
      return inTenant(tenancy, request, reply, (t) => t.documents.list(
        externalRef === undefined ? page : { ...page, externalRef }));
    });

    app.get<ById>('/documents/:id', {
      schema: {
        tags, security, summary: 'Read a document with its text',
        params: byId,
        response: answer.answers({ 200: answer.tenantDocument }),
      },
    }, async (request, reply) => found(await inTenant(tenancy, request, reply,
      (t) => t.documents.get(request.params.id))));

    app.patch<ById & { Body: DocumentPatch }>('/documents/:id', {
      schema: {
        tags, security, summary: 'Change the title, text or metadata of a document',
        params: byId,
        body: fromZod(documentPatch),
        response: answer.answers({ 200: answer.tenantDocument }),
      },
    }, async (request, reply) => found(await inTenant(tenancy, request, reply,
      (t) => t.documents.update(request.params.id, request.body))));

    app.delete<ById>('/documents/:id', {
      schema: {
        tags, security, summary: 'Delete a document',
        params: byId,
        response: answer.answers({ 204: answer.noContent }),
      },
    }, async (request, reply) => {
      const deleted = await inTenant(tenancy, request, reply,
        (t) => t.documents.delete(request.params.id));
      found(deleted ? true : undefined);
      return reply.code(204).send();
    });
  };
}
