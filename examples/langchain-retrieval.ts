// Example: LangChain.js retrieval over real documents, one tenant per book, local embeddings.
// Run from the checkout: node --import tsx examples/langchain-retrieval.ts [documents-folder]
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Document } from '@langchain/core/documents';
import { Tenancy } from 'tenancy';
import { LocalHashEmbeddings, TenancyVectorStore } from 'tenancy/langchain';

const folder = resolve(process.argv[2] ?? join(import.meta.dirname, '../../shared/data/documents'));

function load(name: string): Document[] {
  return readFileSync(join(folder, `${name}.jsonl`), 'utf8').split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { id: string; title: string; text: string })
    .map((doc) => new Document({ id: doc.id, pageContent: doc.text,
      metadata: { title: doc.title } }));
}

const dataDir = await mkdtemp(join(tmpdir(), 'tenancy-example-'));
const tenancy = await Tenancy.open({ dataDir, logLevel: 'silent' });
try {
  const embeddings = new LocalHashEmbeddings();
  const stores = new Map<string, TenancyVectorStore>();
  for (const name of ['tm4-coffee', 'sgd-banks']) {
    await tenancy.tenants.create({ id: name, isolation: 'row' });
    const store = new TenancyVectorStore(embeddings, { tenancy, tenantId: name });
    await store.addDocuments(load(name));
    stores.set(name, store);
  }

  const questions: [string, string][] = [
    ['tm4-coffee', 'How were coffee beans roasted and ground in the old days?'],
    ['sgd-banks', 'Why must the Bank of England keep a large reserve in a panic?'],
    // A question about banking put to the coffee tenant still only finds coffee documents.
    ['tm4-coffee', 'Why must the Bank of England keep a large reserve in a panic?'],
  ];
  for (const [tenant, question] of questions) {
    const retriever = (stores.get(tenant) as TenancyVectorStore).asRetriever({ k: 3 });
    const found = await retriever.invoke(question);
    console.log(`[${tenant}] ${question}`);
    for (const doc of found) console.log(`  ${doc.id}  ${String(doc.metadata.title)}`);
  }

  const diverse = await (stores.get('sgd-banks') as TenancyVectorStore)
    .maxMarginalRelevanceSearch('rate of discount and the reserve', { k: 3, fetchK: 20 });
  console.log('[sgd-banks] mmr: rate of discount and the reserve');
  for (const doc of diverse) console.log(`  ${doc.id}  ${String(doc.metadata.title)}`);
} finally {
  await tenancy.close();
  await rm(dataDir, { recursive: true, force: true });
}
