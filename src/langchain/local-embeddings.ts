// LangChain Embeddings over the local hashed n-gram function: no model and no network.
import { Embeddings, type EmbeddingsParams } from '@langchain/core/embeddings';
import { localEmbedding, type LocalEmbeddingOptions } from '../embeddings/hashed-ngrams.ts';

/** For examples, tests and offline use; real deployments pass their own model's embeddings. */
export class LocalHashEmbeddings extends Embeddings {
  readonly #options: LocalEmbeddingOptions;

  constructor(options: LocalEmbeddingOptions & EmbeddingsParams = {}) {
    super(options);
    this.#options = { dimensions: options.dimensions, maxN: options.maxN };
  }

  async embedDocuments(texts: string[]): Promise<number[][]> {
    return texts.map((text) => localEmbedding(text, this.#options));
  }

  async embedQuery(text: string): Promise<number[]> {
    return localEmbedding(text, this.#options);
  }
}
