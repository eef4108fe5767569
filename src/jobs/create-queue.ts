// Picks the job queue adapter the config names; BullMQ is only loaded when it is chosen.
import type { JobsConfig } from '../config/schema.ts';
import type { Database } from '../storage/driver.ts';
import { BullmqQueue } from './bullmq-queue.ts';
import type { JobQueueAdapter } from './job-queue.ts';
import { PostgresQueue } from './postgres-queue.ts';

export interface QueuePlaces {
  /** Each region's shared database. */
  regions: ReadonlyMap<string, Database>;
  runtimeRole: (region: string) => string;
  onError?: () => void;
}

export function createJobQueue(config: JobsConfig, places: QueuePlaces): JobQueueAdapter {
  if (config.adapter === 'bullmq') {
    return new BullmqQueue({
      redisUrl: config.redisUrl.reveal(),
      prefix: config.prefix,
      regions: [...places.regions.keys()],
      maxAttempts: config.maxAttempts,
    });
  }
  return new PostgresQueue({
    regions: places.regions,
    runtimeRole: places.runtimeRole,
    maxAttempts: config.maxAttempts,
    pollMillis: config.pollMillis,
    onError: places.onError,
  });
}
