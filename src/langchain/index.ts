// The `tenancy/langchain` entry point: loads @langchain/core, so the main entry never does.
export { TenancyVectorStore } from './tenancy-vector-store.ts';
export type { TenancyFilter, TenancyVectorStoreArgs } from './tenancy-vector-store.ts';
export { LocalHashEmbeddings } from './local-embeddings.ts';
