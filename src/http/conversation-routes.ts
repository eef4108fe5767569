// /v1/conversations: a tenant's conversations and their messages, one session per request.
import type { FastifyInstance } from 'fastify';
import {
  conversationInput, conversationPatch, messageInput, type ConversationInput,
  type ConversationPatch, type MessageInput,
} from '../stores/inputs.ts';
import type { Tenancy } from '../tenancy.ts';
import { pageQuery, type PageQuery } from './page-query.ts';
import * as answer from './responses.ts';
import { fromZod, pathParams } from './schemas.ts';
import { found, inTenant } from './tenant-scope.ts';

const tags = ['conversations'];
const security = [{ apiKey: [] }];
const byId = pathParams('id');

interface ById { Params: { id: string } }

/** Registers the conversation routes; the tenant comes from the API key checked before them. */
export function conversationRoutes(tenancy: Tenancy) {
  const maxPage = tenancy.config.server.maxPageSize;
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: ConversationInput }>('/conversations', {
      schema: {
        tags, security, summary: 'Create a conversation, with its first messages',
        body: fromZod(conversationInput),
        response: answer.answers({ 201: answer.conversationWithMessages }),
      },
    }, async (request, reply) => {
      const created = await inTenant(tenancy, request, reply,
        (t) => t.conversations.create(request.body));
      return reply.code(201).send(created);
    });

    app.get<{ Querystring: PageQuery }>('/conversations', {
      schema: {
        tags, security, summary: 'List conversations by id, a page at a time',
        querystring: pageQuery.json,
        response: answer.answers({ 200: answer.page(answer.conversation) }),
      },
    }, (request, reply) => inTenant(tenancy, request, reply,
      (t) => t.conversations.list(pageQuery.capped(request.query, maxPage))));

    app.get<ById>('/conversations/:id', {
      schema: {
        tags, security, summary: 'Read a conversation with all its messages',
        params: byId,
        response: answer.answers({ 200: answer.conversationWithMessages }),
      },
    }, async (request, reply) => found(await inTenant(tenancy, request, reply,
      (t) => t.conversations.get(request.params.id))));

    app.patch<ById & { Body: ConversationPatch }>('/conversations/:id', {
      schema: {
        tags, security, summary: 'Change the title or metadata of a conversation',
        params: byId,
        body: fromZod(conversationPatch),
        response: answer.answers({ 200: answer.conversation }),
      },
    }, async (request, reply) => found(await inTenant(tenancy, request, reply,
      (t) => t.conversations.update(request.params.id, request.body))));

    app.delete<ById>('/conversations/:id', {
      schema: {
        tags, security, summary: 'Delete a conversation and its messages',
        params: byId,
        response: answer.answers({ 204: answer.noContent }),
      },
    }, async (request, reply) => {
      const deleted = await inTenant(tenancy, request, reply,
        (t) => t.conversations.delete(request.params.id));
      found(deleted ? true : undefined);
      return reply.code(204).send();
    });

    app.post<ById & { Body: MessageInput }>('/conversations/:id/messages', {
      schema: {
        tags, security, summary: 'Append a message to a conversation',
        params: byId,
        body: fromZod(messageInput),
        response: answer.answers({ 201: answer.message }),
      },
    }, async (request, reply) => {
      const message = await inTenant(tenancy, request, reply,
        (t) => t.conversations.addMessage(request.params.id, request.body));
      return reply.code(201).send(message);
    });
  };
}
