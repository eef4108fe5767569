// The library's log hook: silent unless the application passes one. Events carry no content.

export interface LogEvent {
  level: 'debug' | 'info' | 'warn' | 'error';
  event: string;
  tenantId?: string;
  region?: string;
  isolation?: string;
  code?: string;
  durationMs?: number;
  count?: number;
}

export type LogHook = (event: LogEvent) => void;

export const silent: LogHook = () => {};
